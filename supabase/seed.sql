-- Development users, inserted the way GoTrue stores email sign-ups, so they can sign in with
-- password123. Their profiles are created by the trigger on auth.users.
-- GoTrue reads the token columns as non-null strings, hence the empty strings.
insert into auth.users (
    instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
    confirmation_token, recovery_token, email_change_token_new, email_change,
    raw_app_meta_data, raw_user_meta_data, created_at, updated_at
)
select
    '00000000-0000-0000-0000-000000000000', u.id, 'authenticated', 'authenticated', u.email,
    extensions.crypt('password123', extensions.gen_salt('bf')), now(),
    '', '', '', '',
    '{"provider": "email", "providers": ["email"]}', jsonb_build_object('display_name', u.display_name),
    now(), now()
from (values
    ('11111111-1111-4111-8111-111111111111'::uuid, 'alice@example.com', 'Alice'),
    ('22222222-2222-4222-8222-222222222222'::uuid, 'bob@example.com', 'Bob')
) as u (id, email, display_name);

-- The email identity GoTrue creates alongside each email user (provider_id is the user id).
insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
select
    u.id::text, u.id,
    jsonb_build_object('sub', u.id::text, 'email', u.email, 'email_verified', true, 'phone_verified', false),
    'email', now(), now(), now()
from auth.users as u
where u.id in ('11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222');
