-- The shop database of the support-triage example. The first task builds a working copy from
-- this file in .data/shop.db (git-ignored); delete that file to start again from here.
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE
);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    placed_on TEXT NOT NULL,
    item TEXT NOT NULL,
    total TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('processing', 'shipped', 'delivered', 'returned', 'refunded', 'cancelled')),
    carrier TEXT,
    tracking TEXT
);

INSERT INTO customers (id, name, email) VALUES
    (1, 'Ann Lee', 'ann.lee@example.com'),
    (2, 'Bruno Diaz', 'bruno.diaz@example.com'),
    (3, 'Chen Wei', 'chen.wei@example.com'),
    (4, 'Dana Okafor', 'dana.okafor@example.com'),
    (5, 'Emil Novak', 'emil.novak@example.com'),
    (6, 'Fatima Rossi', 'fatima.rossi@example.com'),
    (7, 'Gus Berg', 'gus.berg@example.com'),
    (8, 'Hana Sato', 'hana.sato@example.com'),
    (9, 'Ivan Petrov', 'ivan.petrov@example.com'),
    (10, 'Jo Martin', 'jo.martin@example.com'),
    (11, 'Kemal Aydin', 'kemal.aydin@example.com'),
    (12, 'Lena Vogel', 'lena.vogel@example.com');

INSERT INTO orders (id, customer_id, placed_on, item, total, status, carrier, tracking) VALUES
    (1001, 1, '2026-10-02', 'Desk lamp', '39.90', 'delivered', 'DHL', 'JD014600001'),
    (1002, 1, '2026-11-28', 'Wireless keyboard', '59.00', 'shipped', 'DHL', 'JD014600002'),
    (1003, 2, '2026-11-20', 'Espresso machine', '249.00', 'delivered', 'UPS', '1Z999AA10001'),
    (1004, 2, '2026-11-30', 'Milk frother', '29.50', 'processing', NULL, NULL),
    (1005, 3, '2026-11-15', 'Running shoes', '120.00', 'returned', 'GLS', 'GLS55500001'),
    (1006, 3, '2026-12-01', 'Sports socks (3 pairs)', '18.00', 'shipped', 'GLS', 'GLS55500002'),
    (1007, 4, '2026-11-25', 'Noise-cancelling headphones', '199.00', 'delivered', 'UPS', '1Z999AA10002'),
    (1008, 5, '2026-11-10', 'Office chair', '310.00', 'refunded', 'DPD', 'DPD0000001'),
    (1009, 5, '2026-12-02', 'Chair mat', '45.00', 'processing', NULL, NULL),
    (1010, 6, '2026-11-29', 'Smart watch', '179.00', 'shipped', 'DHL', 'JD014600003'),
    (1011, 7, '2026-11-05', 'E-reader', '129.00', 'delivered', 'UPS', '1Z999AA10003'),
    (1012, 7, '2026-11-27', 'E-reader case', '24.00', 'cancelled', NULL, NULL),
    (1013, 8, '2026-12-03', 'Yoga mat', '35.00', 'processing', NULL, NULL),
    (1014, 9, '2026-11-18', 'Router', '89.00', 'delivered', 'DPD', 'DPD0000002'),
    (1015, 9, '2026-11-26', 'Network cable (5 m)', '9.90', 'shipped', 'DPD', 'DPD0000003'),
    (1016, 10, '2026-11-22', 'Blender', '75.00', 'delivered', 'GLS', 'GLS55500003'),
    (1017, 11, '2026-11-30', 'Backpack', '65.00', 'shipped', 'UPS', '1Z999AA10004'),
    (1018, 12, '2026-11-12', 'Winter jacket', '160.00', 'returned', 'DHL', 'JD014600004'),
    (1019, 12, '2026-12-04', 'Gloves', '22.00', 'processing', NULL, NULL),
    (1020, 4, '2026-12-02', 'Phone charger', '19.90', 'shipped', 'UPS', '1Z999AA10005');
