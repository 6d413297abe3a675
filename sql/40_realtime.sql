-- Local stand-in for what Supabase Realtime keeps in the database: the broadcast/presence
-- authorization table (RLS policies on it decide who may join private channels), the
-- topic helper those policies call, and the publication postgres_changes listens on.
create schema realtime;
grant usage on schema realtime to anon, authenticated, service_role;

-- Realtime partitions this table by day and creates the partitions itself; without that
-- service a plain table is the faithful equivalent.
create table realtime.messages (
    topic text not null,
    extension text not null,
    payload jsonb,
    event text,
    private boolean default false,
    updated_at timestamp not null default now(),
    inserted_at timestamp not null default now(),
    id uuid not null default gen_random_uuid(),
    primary key (id, inserted_at)
);
create index messages_topic_index on realtime.messages (topic);
alter table realtime.messages enable row level security;
grant select, insert, update on realtime.messages to anon, authenticated, service_role;

-- Realtime sets `realtime.topic` to the channel being joined before evaluating policies.
create function realtime.topic()
returns text
language sql stable
as $$
select nullif(current_setting('realtime.topic', true), '')::text;
$$;

-- Empty, as on a new project: migrations add the tables whose changes clients may follow.
create publication supabase_realtime;

-- Broadcast from the database (triggers, functions), as hosted Realtime provides it: the message
-- is a row of realtime.messages, which the server reads from the write-ahead log and fans out to
-- the topic's subscribers; a private topic's to those its policies let read. A failure is a
-- warning, never the caller's error.
create function realtime.send(payload jsonb, event text, topic text, private boolean default true)
returns void
language plpgsql
as $$
declare
    message_id uuid := gen_random_uuid();
begin
    begin
        perform set_config('realtime.topic', topic, true);
        insert into realtime.messages (id, payload, event, topic, private, extension)
        values (message_id,
                case when payload ? 'id' then payload else payload || jsonb_build_object('id', message_id) end,
                event, topic, private, 'broadcast');
    exception when others then
        raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
    end;
end;
$$;

-- A row trigger's change as a broadcast on a private topic, in hosted Realtime's shape.
create function realtime.broadcast_changes(
    topic_name text, event_name text, operation text, table_name text, table_schema text,
    new record, old record, level text default 'ROW')
returns void
language plpgsql
as $$
begin
    if level = 'STATEMENT' then
        raise exception 'function can only be triggered for each row, not for each statement';
    end if;
    if operation not in ('INSERT', 'UPDATE', 'DELETE') then
        raise exception 'Unexpected operation type: %', operation;
    end if;
    perform realtime.send(
        jsonb_build_object('old_record', old, 'record', new, 'operation', operation,
                           'table', table_name, 'schema', table_schema),
        event_name, topic_name);
end;
$$;

-- What follows is the local server's own (hosted Realtime keeps its equivalent, realtime.apply_rls,
-- in its tenant schema): given one change decoded by wal2json (format 2), which subscribers may see
-- it, and in what shape. Not for clients.
-- wal2json's column values as to_jsonb gives them for their types (numbers, arrays, objects).
create function realtime.stand_in_typed_values(columns jsonb)
returns jsonb
language plpgsql stable
as $$
declare
    col jsonb;
    typed jsonb;
    result jsonb := '{}';
begin
    for col in select * from jsonb_array_elements(coalesce(columns, '[]')) loop
        execute format('select to_jsonb(%L::%s)', col->'value' #>> '{}', (col->>'typeoid')::oid::regtype)
            into typed;
        result := result || jsonb_build_object(col->>'name', typed);
    end loop;
    return result;
end;
$$;

-- The values among `record_values` the role may select.
create function realtime.stand_in_selectable(record_values jsonb, entity regclass, member_role text)
returns jsonb
language sql stable
as $$
select coalesce(jsonb_object_agg(key, value), '{}')
from jsonb_each(record_values)
where pg_catalog.has_column_privilege(member_role, entity, key, 'SELECT');
$$;

-- Whether a change's columns pass a subscriber's filters ([{column, op, value}], compared in the
-- column's type). A filter on a column the change does not carry passes, as hosted: a delete
-- carries only its key, so deletes are not filterable.
create function realtime.stand_in_passes_filters(columns jsonb, filters jsonb)
returns boolean
language plpgsql stable
as $$
declare
    filter jsonb;
    col jsonb;
    comparison text;
    passes boolean;
begin
    for filter in select * from jsonb_array_elements(coalesce(filters, '[]')) loop
        select c into col from jsonb_array_elements(columns) c where c->>'name' = filter->>'column';
        continue when col is null;
        comparison := case filter->>'op'
            when 'eq' then '%1$L::%2$s = %3$L::%2$s'
            when 'neq' then '%1$L::%2$s <> %3$L::%2$s'
            when 'lt' then '%1$L::%2$s < %3$L::%2$s'
            when 'lte' then '%1$L::%2$s <= %3$L::%2$s'
            when 'gt' then '%1$L::%2$s > %3$L::%2$s'
            when 'gte' then '%1$L::%2$s >= %3$L::%2$s'
            when 'in' then '%1$L::%2$s = any (%3$L::%2$s[])'
        end;
        if comparison is null then
            raise exception 'unknown filter operator %', filter->>'op';
        end if;
        execute format('select coalesce(' || comparison || ', false)',
                       col->'value' #>> '{}', (col->>'typeoid')::oid::regtype, filter->>'value')
            into passes;
        if not passes then
            return false;
        end if;
    end loop;
    return true;
end;
$$;

-- The change as each subscriber ([{id, role, claims, filters}]) may receive it: only when the
-- subscriber, as its role with its JWT claims, may select the row under RLS (deletes cannot be
-- checked, so they carry only the primary key); only the columns the role may select. As hosted's
-- walrus (`realtime.apply_rls`) does: subscribers with the same role and claims (one user's
-- several listeners) are checked once, by role so that the row check is prepared once per role;
-- the payload is built once per role and each distinct filter evaluated once.
create function realtime.stand_in_visible_change(wal jsonb, subscribers jsonb)
returns table (subscriber text, data jsonb)
language plpgsql
as $$
declare
    entity regclass := format('%I.%I', wal->>'schema', wal->>'table')::regclass;
    action text := case wal->>'action' when 'I' then 'INSERT' when 'U' then 'UPDATE' when 'D' then 'DELETE' end;
    rls_enabled boolean := (select relrowsecurity from pg_catalog.pg_class where oid = entity);
    new_columns jsonb := coalesce(wal->'columns', '[]');
    old_columns jsonb := coalesce(wal->'identity', '[]');
    new_values jsonb := realtime.stand_in_typed_values(new_columns);
    old_values jsonb := realtime.stand_in_typed_values(old_columns);
    key_names text[] := array(select pk->>'name' from jsonb_array_elements(coalesce(wal->'pk', '[]')) pk);
    key_condition text;
    checks_rows boolean;
    prepared_for text;
    by_role jsonb := '{}';
    by_filters jsonb := '{}';
    filters_key text;
    same_claims record;
    listener jsonb;
    admitted text[];
    visible boolean;
    change jsonb := jsonb_build_object(
        'schema', wal->>'schema', 'table', wal->>'table', 'type', action, 'errors', null,
        'commit_timestamp', to_char((wal->>'timestamp')::timestamptz at time zone 'utc',
                                    'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));
begin
    select string_agg(format('%I = %L', c->>'name', c->'value' #>> '{}'), ' and ')
        into key_condition
        from jsonb_array_elements(new_columns) c
        where c->>'name' = any (key_names);
    if action = 'DELETE' and rls_enabled then
        old_values := (select coalesce(jsonb_object_agg(key, value), '{}') from jsonb_each(old_values)
                       where key = any (key_names));
    end if;
    checks_rows := rls_enabled and action <> 'DELETE';
    if checks_rows and key_condition is null then
        return; -- no primary key: hosted answers with an error payload instead
    end if;
    if exists (select from pg_catalog.pg_prepared_statements where name = 'stand_in_row_visible') then
        deallocate stand_in_row_visible;
    end if;
    for same_claims in
        select sub->>'role' as member_role, sub->'claims' as claims,
               jsonb_agg(jsonb_build_object('id', sub->'id', 'filters', coalesce(sub->'filters', '[]'))) as members
        from jsonb_array_elements(subscribers) sub
        group by 1, 2
        order by 1
    loop
        if not by_role ? same_claims.member_role then
            by_role := by_role || jsonb_build_object(same_claims.member_role, realtime.stand_in_payload(
                change, action, entity, same_claims.member_role, new_values, old_values));
        end if;
        continue when by_role->same_claims.member_role = 'null'::jsonb;
        admitted := '{}';
        for listener in select * from jsonb_array_elements(same_claims.members) loop
            filters_key := (listener->'filters')::text;
            if not by_filters ? filters_key then
                by_filters := by_filters || jsonb_build_object(filters_key,
                    realtime.stand_in_passes_filters(new_columns, listener->'filters')
                    or (action = 'DELETE' and realtime.stand_in_passes_filters(old_columns, listener->'filters')));
            end if;
            if (by_filters->>filters_key)::boolean then
                admitted := admitted || (listener->>'id');
            end if;
        end loop;
        continue when cardinality(admitted) = 0;
        if checks_rows then
            perform set_config('role', same_claims.member_role, true),
                    set_config('request.jwt.claims', same_claims.claims::text, true);
            -- Prepared as the role it runs as: a plan under RLS is made again for another role.
            if prepared_for is distinct from same_claims.member_role then
                if prepared_for is not null then
                    deallocate stand_in_row_visible;
                end if;
                execute format('prepare stand_in_row_visible as select exists (select 1 from %s where %s)',
                               entity, key_condition);
                prepared_for := same_claims.member_role;
            end if;
            execute 'execute stand_in_row_visible' into visible;
            perform set_config('role', 'none', true);
            continue when not visible;
        end if;
        return query select unnest(admitted), by_role->same_claims.member_role;
    end loop;
    if prepared_for is not null then
        deallocate stand_in_row_visible;
    end if;
end;
$$;

-- The change's payload for a role: null when the role may not select the table at all.
create function realtime.stand_in_payload(
    change jsonb, action text, entity regclass, member_role text, new_values jsonb, old_values jsonb)
returns jsonb
language sql stable
as $$
select case when pg_catalog.has_table_privilege(member_role, entity, 'SELECT') then
    change
    || jsonb_build_object('columns',
        (select jsonb_agg(jsonb_build_object('name', a.attname, 'type', t.typname) order by a.attnum)
         from pg_catalog.pg_attribute a join pg_catalog.pg_type t on t.oid = a.atttypid
         where a.attrelid = entity and a.attnum > 0 and not a.attisdropped
           and pg_catalog.has_column_privilege(member_role, entity, a.attname, 'SELECT')))
    || case when action in ('INSERT', 'UPDATE')
            then jsonb_build_object('record', realtime.stand_in_selectable(new_values, entity, member_role))
            else '{}' end
    || case when action in ('UPDATE', 'DELETE')
            then jsonb_build_object('old_record', realtime.stand_in_selectable(old_values, entity, member_role))
            else '{}' end
end;
$$;

revoke execute on function realtime.stand_in_typed_values(jsonb), realtime.stand_in_selectable(jsonb, regclass, text),
    realtime.stand_in_passes_filters(jsonb, jsonb), realtime.stand_in_visible_change(jsonb, jsonb),
    realtime.stand_in_payload(jsonb, text, regclass, text, jsonb, jsonb)
    from public;
