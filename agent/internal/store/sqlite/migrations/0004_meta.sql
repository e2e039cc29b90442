-- Facts about the database itself, by name. "secrets_key_check" holds an
-- HMAC of the key that encrypts secret rule parameters (never the key
-- itself), so an agent given another key refuses to start.
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
