/**
 * The demo shop at /demo (development gateways only): products, a cart, checkout through the
 * SDK with `Prefer: wait`, the order read back with GET /v1/orders/{id}, and a page view on every
 * navigation. Bundled with the SDK by gateway/node/demo.ts; `?key=` on the page's URL gives the
 * API key when the gateway has authentication on.
 */
import { ferry, type OrderEvent, type OrderItem, uuid } from '../src/ferry.ts';

interface Product {
  sku: string;
  name: string;
  price_cents: number;
}

const PRODUCTS: Product[] = [
  { sku: 'SKU-KETTLE', name: 'Kettle', price_cents: 2900 },
  { sku: 'SKU-MUG', name: 'Mug', price_cents: 900 },
  { sku: 'SKU-TEA', name: 'Green tea, 100 g', price_cents: 650 },
  { sku: 'SKU-TRAY', name: 'Serving tray', price_cents: 1800 },
];

const key = new URLSearchParams(location.search).get('key') ?? undefined;
ferry.init({
  url: location.origin,
  ...(key ? { key } : {}),
  onError: (e) => say(`The gateway refused ${e.events.length} ${e.topic} event(s): ${e.problem?.detail ?? e.status}`),
});

const $ = (id: string) => document.getElementById(id)!;
const money = (cents: number) => `€${(cents / 100).toFixed(2)}`;
const stored = <T>(name: string, fallback: T): T => JSON.parse(localStorage.getItem(name) ?? 'null') ?? fallback;
const store = (name: string, value: unknown) => localStorage.setItem(name, JSON.stringify(value));
const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

let user = localStorage.getItem('shop.user');
if (!user) localStorage.setItem('shop.user', user = `visitor-${uuid().slice(0, 8)}`);
const cart = (): Record<string, number> => stored('shop.cart', {});
/** The shop's own list of this visitor's orders (the gateway keeps the orders). */
const orders = (): OrderEvent[] => stored('shop.orders', []);

function say(text: string): void {
  $('status').textContent = text;
}

function items(): OrderItem[] {
  return Object.entries(cart()).map(([sku, quantity]) => ({ sku, quantity, price_cents: PRODUCTS.find((p) => p.sku === sku)!.price_cents }));
}

const views: Record<string, () => string | Promise<string>> = {
  products: () =>
    `<h2>Products</h2><ul>${
      PRODUCTS.map((p) => `<li>${escape(p.name)} <span>${money(p.price_cents)} <button data-add="${p.sku}">Add to cart</button></span></li>`).join('')
    }</ul>`,
  cart: () => {
    const list = items();
    if (list.length === 0) return '<h2>Cart</h2><p>Empty.</p>';
    const total = list.reduce((n, i) => n + i.quantity * i.price_cents, 0);
    const rows = list.map((i) =>
      `<li>${escape(PRODUCTS.find((p) => p.sku === i.sku)!.name)} × ${i.quantity}<span>${money(i.quantity * i.price_cents)}</span></li>`
    );
    return `<h2>Cart</h2><ul>${rows.join('')}<li><b>Total</b><b>${money(total)}</b></li></ul><button id="checkout">Checkout</button>`;
  },
  orders: async () => {
    const list = orders();
    if (list.length === 0) return '<h2>Orders</h2><p>None yet.</p>';
    // What the read model holds now, one GET per order; an order not applied yet reads as pending.
    const rows = await Promise.all(
      list.map(async (o) => {
        const current = await ferry.order(o.order_id).catch(() => undefined);
        const status = String(current?.status ?? 'pending');
        const pay = status === 'created' ? ` <button data-pay="${escape(o.order_id)}">Pay</button>` : '';
        return `<li><span>${escape(o.order_id)} · ${money(o.amount_cents)}</span><span class="${escape(status)}" data-order="${escape(o.order_id)}">${
          escape(status)
        }${pay}</span></li>`;
      }),
    );
    return `<h2>Orders</h2><ul>${rows.join('')}</ul>`;
  },
};

let previous: string | null = document.referrer || null;

async function navigate(): Promise<void> {
  const route = location.hash.replace(/^#\//, '') || 'products';
  ferry.track('page_views', { user_id: user!, url: location.href, referrer: previous, occurred_at: new Date() });
  previous = location.href;
  $('view').innerHTML = await (views[route] ?? views.products!)();
  $('count').textContent = String(Object.values(cart()).reduce((a, b) => a + b, 0));
}

/** Posts an order event through the SDK and waits until the workers applied it. */
async function post(order: OrderEvent): Promise<string> {
  // The SDK always sends an array, so the answer is a batch's: `orders`, one per order.
  const answer = (await ferry.send('orders', order, { wait: 10 })) as { orders?: { status?: string }[] };
  return answer.orders?.[0]?.status ?? 'accepted (not applied yet)';
}

document.addEventListener('click', async (e) => {
  const target = e.target as HTMLElement;
  const add = target.dataset.add;
  if (add) {
    store('shop.cart', { ...cart(), [add]: (cart()[add] ?? 0) + 1 });
    $('count').textContent = String(Object.values(cart()).reduce((a, b) => a + b, 0));
    say('Added to the cart.');
  } else if (target.id === 'checkout') {
    const list = items();
    const order: OrderEvent = {
      order_id: `o-${uuid().slice(0, 13)}`,
      customer_id: user!,
      status: 'created',
      amount_cents: list.reduce((n, i) => n + i.quantity * i.price_cents, 0),
      currency: 'EUR',
      items: list,
      occurred_at: new Date(),
    };
    store('shop.orders', [...orders(), order]);
    store('shop.cart', {});
    say(`Order ${order.order_id} sent…`);
    const status = await post(order);
    say(`Order ${order.order_id}: ${status}.`);
    location.hash = '#/orders';
  } else if (target.dataset.pay) {
    const order = orders().find((o) => o.order_id === target.dataset.pay)!;
    say(`Paying ${order.order_id}: ${await post({ ...order, status: 'paid', occurred_at: new Date() })}.`);
    await navigate();
  }
});

addEventListener('hashchange', () => void navigate());
void navigate();
setInterval(() => {
  const { queued, dropped } = ferry.stats();
  $('outbox').textContent = `${queued} event(s) waiting${dropped ? `, ${dropped} dropped` : ''}${navigator.onLine ? '' : ' (offline)'}`;
}, 500);
