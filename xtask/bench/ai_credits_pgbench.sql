-- One metered call's database work: reserve (rate window + ledger + request log), then settle.
\set user random(1, 64)
select public.settle_ai_credits(
    (public.reserve_ai_credits(
        user_id => format('00000000-0000-4000-a000-%s', lpad(:user::text, 12, '0'))::uuid, endpoint => 'bench',
        capability => 'text', default_provider => 'openai', estimated_input_tokens => 10,
        estimated_output_tokens => 100, estimated_images => 0) ->> 'request_id')::uuid,
    'gpt-4o-mini', 10, 100, 0, 1);
