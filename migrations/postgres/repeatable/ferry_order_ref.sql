-- One text naming an order of a tenant, unambiguous whatever the two contain.
CREATE OR REPLACE FUNCTION ferry_order_ref(tenant text, order_id text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT length(tenant)::text || ':' || tenant || order_id
$$;
