-- Close of day (issue 17): a loan may be written off, and each loan keeps the snapshot of its last ledger
-- replay (credit/close_of_day.py), from which later days' figures follow in SQL until a payment arrives.
ALTER TABLE loans ADD COLUMN written_off_on date;

CREATE TABLE loan_ledger_snapshots (
    loan_id                uuid PRIMARY KEY REFERENCES loans (id),
    as_of                  date NOT NULL,
    terms                  text NOT NULL,            -- the servicing terms of the replay (credit.close_of_day.terms_key)
    payments_seen          integer NOT NULL,         -- repayments dated on or before as_of when it was replayed
    places                 smallint NOT NULL,        -- decimals of the currency's minor unit
    outstanding_principal  numeric NOT NULL,
    late_arrears           numeric NOT NULL,         -- arrears on as_of, late fees included
    oldest_unpaid_due      date,                     -- due date of the oldest instalment still owing (NULL: none)
    closed                 boolean NOT NULL,
    period_start           date NOT NULL,            -- start of the first pending instalment's period
    -- the instalments not late on as_of, in order
    pending_due            date[] NOT NULL,
    pending_days           integer[] NOT NULL,
    pending_interest       numeric[] NOT NULL,
    pending_interest_paid  numeric[] NOT NULL,
    pending_late_owed      numeric[] NOT NULL,       -- what each adds to the arrears once late (late fee included)
    replayed_at            timestamptz NOT NULL DEFAULT now()
);
