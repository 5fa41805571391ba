/**
 * The human API reference at /docs: one HTML page rendered on the server from the OpenAPI
 * document, with inline CSS and no scripts, fonts or CDN, so it works offline and under a
 * strict Content-Security-Policy.
 */
import type { JsonSchema, OpenApiDocument, Operation } from './openapi.ts';

const esc = (v: unknown): string => String(v).replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);

/** Inline `code` and paragraphs from the spec's markdown-ish descriptions. */
const prose = (text: unknown): string =>
  String(text ?? '')
    .split(/\n{2,}/)
    .map((p) => `<p>${esc(p).replace(/`([^`]+)`/g, '<code>$1</code>')}</p>`)
    .join('');

const refName = (r: string) => r.slice(r.lastIndexOf('/') + 1);

export function renderDocsPage(spec: OpenApiDocument): string {
  const resolve = (obj: JsonSchema): JsonSchema => {
    const r = obj.$ref;
    if (typeof r !== 'string') return obj;
    const [, , kind, name] = r.split('/');
    return ((spec.components as Record<string, Record<string, JsonSchema>>)[kind!]?.[name!]) ?? {};
  };

  const typeOf = (s: JsonSchema): string => {
    if (typeof s.$ref === 'string') {
      const name = refName(s.$ref);
      return `<a href="#schema-${esc(name)}">${esc(name)}</a>`;
    }
    for (const k of ['oneOf', 'anyOf', 'allOf'] as const) {
      if (Array.isArray(s[k])) return (s[k] as JsonSchema[]).map(typeOf).join(k === 'allOf' ? ' &amp; ' : ' | ');
    }
    if (s.type === 'array') return `array of ${typeOf((s.items as JsonSchema) ?? {})}`;
    if (s.const !== undefined) return `<code>${esc(JSON.stringify(s.const))}</code>`;
    if (Array.isArray(s.enum)) return (s.enum as unknown[]).map((e) => `<code>${esc(e)}</code>`).join(' | ');
    const t = Array.isArray(s.type) ? s.type.join(' | ') : String(s.type ?? 'any');
    return esc(s.format ? `${t} (${String(s.format)})` : t);
  };

  const constraints = (s: JsonSchema): string => {
    const parts: string[] = [];
    for (const k of ['minLength', 'maxLength', 'minimum', 'maximum', 'minItems', 'maxItems', 'pattern']) {
      if (s[k] !== undefined) parts.push(`${k}: ${String(s[k])}`);
    }
    if (s.type === 'array' && s.items && typeof (s.items as JsonSchema).$ref !== 'string') {
      const inner = constraints(s.items as JsonSchema);
      if (inner) parts.push(`items ${inner}`);
    }
    return parts.map((p) => `<code>${esc(p)}</code>`).join(' ');
  };

  const fieldTable = (s: JsonSchema): string => {
    const props = s.properties as Record<string, JsonSchema> | undefined;
    if (!props) return '';
    const required = new Set((s.required as string[] | undefined) ?? []);
    const rows = Object.entries(props).map(([name, p]) => {
      const nested = p.type === 'object' && p.properties
        ? fieldTable(p)
        : p.type === 'array' && (p.items as JsonSchema)?.properties
        ? fieldTable(p.items as JsonSchema)
        : '';
      return `<tr><td><code>${esc(name)}</code>${required.has(name) ? ' <span class="req">required</span>' : ''}</td><td>${typeOf(p)}</td><td>${
        constraints(p)
      }</td><td>${prose(p.description)}${nested}</td></tr>`;
    });
    return `<table><thead><tr><th>field</th><th>type</th><th>constraints</th><th>description</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  };

  const schemaBlock = (name: string, s: JsonSchema): string => {
    let body = prose(s.description);
    if (s.properties) body += fieldTable(s);
    for (const k of ['allOf', 'oneOf'] as const) {
      if (!Array.isArray(s[k])) continue;
      body += `<p>${k === 'allOf' ? 'All of' : 'One of'}: ${(s[k] as JsonSchema[]).map(typeOf).join(', ')}</p>`;
      for (const part of s[k] as JsonSchema[]) if (part.properties) body += fieldTable(part);
    }
    return `<section id="schema-${esc(name)}"><h3>${esc(name)}</h3>${body}</section>`;
  };

  const operation = (path: string, method: string, op: Operation): string => {
    const params = (op.parameters ?? []).map(resolve);
    const paramRows = params
      .map((p) =>
        `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${typeOf((p.schema as JsonSchema) ?? {})}</td><td>${prose(p.description)}</td></tr>`
      )
      .join('');
    const content = (op.requestBody?.content ?? {}) as Record<string, { schema: JsonSchema }>;
    const body = Object.entries(content)
      .map(([type, { schema }]) => `<li><code>${esc(type)}</code>: ${typeOf(schema)}${schema.description ? ` ${prose(schema.description)}` : ''}</li>`)
      .join('');
    const responses = Object.entries(op.responses)
      .map(([status, r0]) => {
        const r = resolve(r0);
        const headers = Object.keys((r.headers as object | undefined) ?? {});
        const types = Object.entries((r.content as Record<string, { schema: JsonSchema }> | undefined) ?? {}).map(([t, c]) =>
          `<code>${esc(t)}</code> ${typeOf(c.schema)}`
        );
        return `<tr><td class="status s${esc(status[0])}">${esc(status)}</td><td>${prose(r.description)}</td><td>${types.join('<br>')}</td><td>${
          headers.map((h) => `<code>${esc(h)}</code>`).join(' ')
        }</td></tr>`;
      })
      .join('');
    const security = op.security ? '<p class="auth">Needs an API key or bearer token.</p>' : '';
    return `<section class="op" id="${esc(op.operationId)}">
<h3><span class="method ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>
<p><strong>${esc(op.summary)}</strong></p>${security}${prose(op.description)}
${
      paramRows
        ? `<h4>Parameters</h4><table><thead><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr></thead><tbody>${paramRows}</tbody></table>`
        : ''
    }
${body ? `<h4>Request body</h4><ul>${body}</ul>` : ''}
<h4>Responses</h4><table><thead><tr><th>status</th><th>meaning</th><th>body</th><th>headers</th></tr></thead><tbody>${responses}</tbody></table>
</section>`;
  };

  const ops = Object.entries(spec.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
  const toc = ops.map(({ path, method, op }) => `<li><a href="#${esc(op.operationId)}">${esc(method.toUpperCase())} ${esc(path)}</a></li>`).join('');
  const schemes = Object.entries(spec.components.securitySchemes)
    .map(([name, s]) => `<li><strong>${esc(name)}</strong>: ${prose(s.description)}</li>`)
    .join('');

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(spec.info.title)}</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#fbfbfd}
main{max-width:70rem;margin:0 auto;padding:1rem 2rem 4rem}
h1{margin-bottom:.2rem}h2{margin-top:2.5rem;border-bottom:2px solid #dde;padding-bottom:.3rem}
code{font:13px ui-monospace,Menlo,Consolas,monospace;background:#eef0f6;padding:0 .25rem;border-radius:3px}
table{border-collapse:collapse;width:100%;margin:.4rem 0 1rem;font-size:14px}
th,td{border:1px solid #dde;padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f0f1f7}
td p{margin:0 0 .3rem}
.op{background:#fff;border:1px solid #dde;border-radius:6px;padding:.2rem 1rem .5rem;margin:1rem 0}
.method{display:inline-block;min-width:3.5rem;text-align:center;color:#fff;border-radius:4px;padding:0 .4rem;font-size:13px}
.get{background:#2f7ad8}.post{background:#2e9e5b}
.status{font-weight:600}.s2{color:#2e7d32}.s3{color:#555}.s4{color:#b26a00}.s5{color:#c62828}
.req{color:#c62828;font-size:12px}.auth{color:#6a4c93}
</style></head>
<body><main>
<h1>${esc(spec.info.title)}</h1><p>OpenAPI ${esc(spec.openapi)}, API version ${
    esc(spec.info.version)
  }. Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
${prose(spec.info.description)}
<h2>Authentication</h2><ul>${schemes}</ul>
<h2>Routes</h2><ul>${toc}</ul>
${ops.map(({ path, method, op }) => operation(path, method, op)).join('\n')}
<h2>Schemas</h2>
${Object.entries(spec.components.schemas).map(([name, s]) => schemaBlock(name, s)).join('\n')}
</main></body></html>
`;
}
