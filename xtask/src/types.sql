-- What a signed-in client can reach in schema public, as one JSON document: the relations it may
-- read or write (columns with its privileges), their foreign keys, the functions it may call, and
-- the enums. `cargo xtask types` turns it into TypeScript, Swift and docs/data-model.md's columns.

-- A type as the generators need it: a base type name, an enum, or a relation's row; arrays flagged.
create function pg_temp.type_json(t oid) returns jsonb language plpgsql stable as $$
declare
  ty pg_type;
begin
  select * into ty from pg_type where oid = t;
  if ty.typcategory = 'A' and ty.typelem <> 0 then
    return pg_temp.type_json(ty.typelem) || '{"array": true}';
  elsif ty.typtype = 'd' then
    return pg_temp.type_json(ty.typbasetype);
  elsif ty.typtype = 'e' then
    return jsonb_build_object('enum', ty.typname);
  elsif ty.typtype = 'c' and ty.typrelid <> 0 then
    return jsonb_build_object('relation', (select relname from pg_class where oid = ty.typrelid));
  end if;
  return jsonb_build_object('name', ty.typname);
end $$;

with relations as (
  select c.oid, c.relname, c.relkind in ('v', 'm') as is_view,
         obj_description(c.oid, 'pg_class') as comment
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = 'public'
    and c.relkind in ('r', 'p', 'v', 'm')
    and has_any_column_privilege('authenticated', c.oid, 'select, insert, update')
),
columns as (
  select r.oid,
         jsonb_agg(jsonb_build_object(
           'name', a.attname,
           'type', pg_temp.type_json(a.atttypid),
           'sql_type', format_type(a.atttypid, a.atttypmod),
           'nullable', not a.attnotnull,
           'has_default', a.atthasdef or a.attidentity <> '',
           'generated', a.attgenerated <> '',
           'select', has_column_privilege('authenticated', r.oid, a.attnum, 'select'),
           'insert', has_column_privilege('authenticated', r.oid, a.attnum, 'insert'),
           'update', has_column_privilege('authenticated', r.oid, a.attnum, 'update'),
           'comment', col_description(r.oid, a.attnum)
         ) order by a.attnum) as columns
  from relations r
  join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
  group by r.oid
),
foreign_keys as (
  select k.conrelid as oid,
         jsonb_agg(jsonb_build_object(
           'name', k.conname,
           'columns', (select jsonb_agg(a.attname order by u.i)
                       from unnest(k.conkey) with ordinality u(n, i)
                       join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.n),
           'one_to_one', exists (select 1 from pg_index x
                                 where x.indrelid = k.conrelid and x.indisunique
                                   and x.indpred is null
                                   and (select array_agg(v order by v) from unnest(x.indkey::int2[]) v)
                                     = (select array_agg(v order by v) from unnest(k.conkey) v)),
           'referenced_relation', f.relname,
           'referenced_columns', (select jsonb_agg(a.attname order by u.i)
                                  from unnest(k.confkey) with ordinality u(n, i)
                                  join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.n)
         ) order by k.conname) as foreign_keys
  from pg_constraint k
  join relations r on r.oid = k.conrelid
  -- Only references a client can follow (an embed): to another relation it reaches.
  join relations f on f.oid = k.confrelid
  where k.contype = 'f'
  group by k.conrelid
),
functions as (
  select p.proname, p.oid,
         jsonb_build_object(
           'name', p.proname,
           'args', coalesce((
             select jsonb_agg(jsonb_build_object(
                      'name', coalesce(p.proargnames[i], ''),
                      'type', pg_temp.type_json(t),
                      'has_default', i > p.pronargs - p.pronargdefaults
                    ) order by i)
             from unnest(p.proargtypes::oid[]) with ordinality u(t, i)), '[]'),
           'returns', pg_temp.type_json(p.prorettype),
           'returns_set', p.proretset,
           'table_columns', (
             select jsonb_agg(jsonb_build_object('name', p.proargnames[i],
                                                 'type', pg_temp.type_json(t)) order by i)
             from unnest(p.proallargtypes, p.proargmodes::text[]) with ordinality u(t, m, i)
             where m in ('t', 'o', 'b')),
           'comment', obj_description(p.oid, 'pg_proc')
         ) as function
  from pg_proc p
  join pg_namespace n on n.oid = p.pronamespace
  where n.nspname = 'public'
    and p.prokind = 'f'
    and p.prorettype <> 'trigger'::regtype
    and has_function_privilege('authenticated', p.oid, 'execute')
)
select jsonb_pretty(jsonb_build_object(
  'relations', coalesce((
    select jsonb_agg(jsonb_build_object(
             'name', r.relname, 'is_view', r.is_view, 'comment', r.comment,
             'columns', c.columns, 'foreign_keys', coalesce(k.foreign_keys, '[]'))
           order by r.relname)
    from relations r
    join columns c on c.oid = r.oid
    left join foreign_keys k on k.oid = r.oid), '[]'),
  'functions', coalesce((select jsonb_agg(function order by proname, oid) from functions), '[]'),
  'enums', coalesce((
    select jsonb_agg(jsonb_build_object(
             'name', t.typname,
             'values', (select jsonb_agg(e.enumlabel order by e.enumsortorder)
                        from pg_enum e where e.enumtypid = t.oid))
           order by t.typname)
    from pg_type t
    join pg_namespace n on n.oid = t.typnamespace
    where n.nspname = 'public' and t.typtype = 'e'), '[]')
));
