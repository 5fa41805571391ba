/* global process, setInterval, clearInterval */
// Preloaded (--require) into every process the tests and the benchmark start: when the process
// that started it is gone (crashed or killed), the child stops as on SIGTERM instead of running on
// as an orphan that keeps consuming, holding ports and its isolated topics and databases.
const parent = process.ppid;
const watch = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(watch);
  process.kill(process.pid, 'SIGTERM');
}, 1000);
watch.unref();
