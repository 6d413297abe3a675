-- One dispatcher's claim of 25 due destinations, undone so every run finds the same rows.
begin;
select jsonb_array_length(public.claim_due_destinations(25, 60));
rollback;
