-- Local stand-in for pg_net (no package exists for it here): the same request queue,
-- response table and http_get / http_post signatures, so migrations, cron jobs and
-- triggers that call pg_net work unchanged. These functions only enqueue; a dev
-- dispatcher outside the database delivers queued requests and records responses.
create schema net;

create domain net.http_method as text
check (value ilike 'get' or value ilike 'post' or value ilike 'delete');

-- Unlogged, as in pg_net: pending requests are disposable.
create unlogged table net.http_request_queue (
    id bigserial,
    method net.http_method not null,
    url text not null,
    headers jsonb,
    body bytea,
    timeout_milliseconds int not null
);

create unlogged table net._http_response (
    id bigint,
    status_code integer,
    content_type text,
    headers jsonb,
    content text,
    timed_out bool,
    error_msg text,
    created timestamptz not null default now()
);
create index on net._http_response (created);

-- pg_net implements these two with libcurl; same behaviour in SQL: percent-encode all
-- but RFC 3986 unreserved bytes, and append the encoded params to the URL's query.
create function net._urlencode_string(string varchar)
returns text
language sql immutable strict
as $$
    select coalesce(string_agg(
        case when chr(b) ~ '[A-Za-z0-9._~-]' then chr(b) else '%' || upper(lpad(to_hex(b), 2, '0')) end,
        '' order by i), '')
    from convert_to(string, 'UTF8') as bytes, generate_series(0, length(bytes) - 1) as i,
        get_byte(bytes, i) as b
$$;

create function net._encode_url_with_params_array(url text, params_array text[])
returns text
language sql immutable strict
as $$
    select case
        when cardinality(params_array) = 0 then url
        else url || case when strpos(url, '?') > 0 then '&' else '?' end || array_to_string(params_array, '&')
    end
$$;

-- http_get and http_post: pg_net's signatures and bodies, minus waking its background worker.
create function net.http_get(
    url text,
    params jsonb default '{}'::jsonb,
    headers jsonb default '{}'::jsonb,
    timeout_milliseconds int default 5000
)
returns bigint
language plpgsql
as $$
declare
    request_id bigint;
    params_array text[];
begin
    select coalesce(array_agg(net._urlencode_string(key) || '=' || net._urlencode_string(value)), '{}')
    into params_array
    from jsonb_each_text(params);

    insert into net.http_request_queue (method, url, headers, timeout_milliseconds)
    values ('GET', net._encode_url_with_params_array(url, params_array), headers, timeout_milliseconds)
    returning id into request_id;

    return request_id;
end
$$;

create function net.http_post(
    url text,
    body jsonb default '{}'::jsonb,
    params jsonb default '{}'::jsonb,
    headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
    timeout_milliseconds int default 5000
)
returns bigint
language plpgsql
as $$
declare
    request_id bigint;
    params_array text[];
    content_type text;
begin
    select header_value into content_type
    from jsonb_each_text(coalesce(headers, '{}'::jsonb)) as r(header_name, header_value)
    where lower(header_name) = 'content-type'
    limit 1;

    -- pg_net adds the content type when omitted and only accepts JSON bodies.
    if content_type is null then
        headers := headers || '{"Content-Type": "application/json"}'::jsonb;
    end if;
    if content_type <> 'application/json' then
        raise exception 'Content-Type header must be "application/json"';
    end if;

    select coalesce(array_agg(net._urlencode_string(key) || '=' || net._urlencode_string(value)), '{}')
    into params_array
    from jsonb_each_text(params);

    insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
    values ('POST', net._encode_url_with_params_array(url, params_array), headers,
            convert_to(body::text, 'UTF8'), timeout_milliseconds)
    returning id into request_id;

    return request_id;
end
$$;

-- Privileges as pg_net installs them and Supabase then adjusts them (its pg_net event
-- trigger): tables open to everyone, the request functions run as their owner.
grant usage on schema net to public;
grant all on all tables in schema net to public;
grant all on all sequences in schema net to public;

alter function net.http_get(text, jsonb, jsonb, int) security definer set search_path = net;
alter function net.http_post(text, jsonb, jsonb, jsonb, int) security definer set search_path = net;
revoke all on function net.http_get(text, jsonb, jsonb, int), net.http_post(text, jsonb, jsonb, jsonb, int) from public;
grant execute on function net.http_get(text, jsonb, jsonb, int), net.http_post(text, jsonb, jsonb, jsonb, int)
    to anon, authenticated, service_role;
