-- Orders belong to the tenant of the credential that sent them (the record's `ferry-tenant`
-- header): two tenants may use the same order id without touching each other's order, and a
-- tenant reads back only its own orders. Rows from before tenants are the development tenant's.
ALTER TABLE orders ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE order_history ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE orders DROP CONSTRAINT orders_pkey, ADD PRIMARY KEY (tenant, order_id);
ALTER TABLE orders ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE order_history ALTER COLUMN tenant DROP DEFAULT;
