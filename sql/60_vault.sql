-- Local stand-in for Supabase Vault (supabase_vault): same table, view and create_secret
-- signature. Locally the secret is stored in plain text and the view just returns it;
-- on Supabase it is encrypted at rest. Only `postgres` can reach it, as on Supabase.
create schema vault;

create table vault.secrets (
    id uuid primary key default gen_random_uuid(),
    name text,
    description text not null default '',
    secret text not null,
    key_id uuid,
    nonce bytea,
    created_at timestamptz not null default current_timestamp,
    updated_at timestamptz not null default current_timestamp
);
create unique index on vault.secrets (name) where name is not null;

create view vault.decrypted_secrets as
select id, name, description, secret, secret as decrypted_secret, key_id, nonce, created_at, updated_at
from vault.secrets;

-- new_key_id is accepted and ignored, as in supabase_vault 0.3.
create function vault.create_secret(
    new_secret text,
    new_name text default null,
    new_description text default '',
    new_key_id uuid default null
)
returns uuid
language sql
security definer
set search_path = ''
as $$
    insert into vault.secrets (secret, name, description)
    values (new_secret, new_name, new_description)
    returning id
$$;
revoke all on function vault.create_secret(text, text, text, uuid) from public;
