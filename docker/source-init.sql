-- Sample source data for docker-compose.yml's source-db (runs once, on the first start of the volume).
CREATE TABLE customers (
    id integer PRIMARY KEY,
    name varchar(80) NOT NULL,
    email varchar(120),
    balance numeric(12, 2),
    updated_at timestamp NOT NULL DEFAULT now()
);
INSERT INTO customers (id, name, email, balance, updated_at)
SELECT g, 'customer ' || g, 'c' || g || '@example.com', (g % 1000) * 1.25,
       timestamp '2024-01-01' + g * interval '1 hour'
FROM generate_series(1, 5000) AS g;

CREATE TABLE orders (
    id bigint PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    amount numeric(12, 2) NOT NULL,
    note text,
    modified timestamp NOT NULL DEFAULT now()
);
INSERT INTO orders (id, customer_id, amount, note, modified)
SELECT g, g % 5000 + 1, (g % 977) * 3.5, CASE WHEN g % 7 = 0 THEN NULL ELSE 'order ' || g END,
       timestamp '2024-01-01' + g * interval '10 minutes'
FROM generate_series(1, 20000) AS g;
