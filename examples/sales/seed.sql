-- The CRM's seed: ten leads and what happened with them so far. The workflow copies it into
-- .data/crm.db on its first run and only ever changes that copy.
CREATE TABLE leads (
    id TEXT PRIMARY KEY,
    company TEXT NOT NULL,
    contact TEXT NOT NULL,
    email TEXT NOT NULL,
    note TEXT NOT NULL UNIQUE,  -- the company's note in notes/
    status TEXT NOT NULL CHECK (status IN ('new', 'contacted', 'replied', 'lost', 'customer')),
    updated_on TEXT NOT NULL
);

CREATE TABLE activities (
    id INTEGER PRIMARY KEY,
    lead_id TEXT NOT NULL REFERENCES leads (id),
    kind TEXT NOT NULL CHECK (kind IN ('outreach', 'follow_up', 'reply', 'call')),
    happened_on TEXT NOT NULL,
    summary TEXT NOT NULL,
    ref TEXT UNIQUE  -- the email's Message-ID: a message is recorded once
);

INSERT INTO leads VALUES
    ('L01', 'Northwind Freight', 'Dana Whitfield', 'dana@northwind.example.com', 'northwind-freight.md', 'new', '2026-02-27'),
    ('L02', 'Bluefin Clinics', 'Omar Haddad', 'omar@bluefin.example.com', 'bluefin-clinics.md', 'contacted', '2026-03-02'),
    ('L03', 'Cedar & Stone Builders', 'Priya Nair', 'priya@cedarstone.example.com', 'cedar-and-stone.md', 'new', '2026-03-03'),
    ('L04', 'Lumen Foods', 'Marco Bellini', 'marco@lumenfoods.example.com', 'lumen-foods.md', 'new', '2026-03-05'),
    ('L05', 'Pixelforge Studio', 'Lea Novak', 'lea@pixelforge.example.com', 'pixelforge-studio.md', 'new', '2026-03-05'),
    ('L06', 'Harbor Hotels', 'Sofia Martins', 'sofia@harborhotels.example.com', 'harbor-hotels.md', 'contacted', '2026-03-02'),
    ('L07', 'Quill Legal', 'James Okafor', 'james@quill-legal.example.com', 'quill-legal.md', 'contacted', '2026-03-12'),
    ('L08', 'Orbit Telecom', 'Hana Sato', 'hana@orbit.example.com', 'orbit-telecom.md', 'lost', '2026-02-10'),
    ('L09', 'Greenleaf Energy', 'Tom Becker', 'tom@greenleaf.example.com', 'greenleaf-energy.md', 'replied', '2026-03-06'),
    ('L10', 'Atlas Outdoor', 'Nina Petrov', 'nina@atlasoutdoor.example.com', 'atlas-outdoor.md', 'new', '2026-03-09');

INSERT INTO activities (lead_id, kind, happened_on, summary, ref) VALUES
    ('L08', 'outreach', '2026-01-26', 'First email about invoice automation.', NULL),
    ('L08', 'reply', '2026-02-10', 'Signed with another vendor for three years; not interested.', NULL),
    ('L02', 'outreach', '2026-02-16', 'First email about invoice automation.', NULL),
    ('L02', 'follow_up', '2026-03-02', 'Follow-up: asked for a short call.', NULL),
    ('L06', 'outreach', '2026-03-02', 'First email about central accounts payable.', NULL),
    ('L09', 'outreach', '2026-03-04', 'First email about reading installer invoices.', NULL),
    ('L09', 'reply', '2026-03-06', 'Asked for pricing for a team of two.', NULL),
    ('L07', 'outreach', '2026-03-12', 'First email about supplier invoices.', NULL);
