-- Billing that matches what the caller got (issue #26).
--
-- * A call whose caller gets an error is never charged: the worker releases its reservation
--   (`release_ai_credits`, logged as failed with the error's code), also when the provider was
--   paid (an answer in a shape it does not document, a model's output that fails its check).
--   The platform's key runs only priced models with valid names (20261206000100), which is
--   what bounds the platform's spend on such calls; `charge_ai_reservation` goes.
-- * A refusal for credits says what the call needed beside what remains: `needed`, the
--   estimate that did not fit (`remaining` may well be above zero), is in
--   `reserve_ai_credits`' `credit_limit_reached` answer (20261207000200 defines it).

drop function public.charge_ai_reservation(uuid, text, integer);
