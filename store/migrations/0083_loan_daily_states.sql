-- Close of day (issue 17): each loan's standing per day, and portfolio at risk per lender and currency.
-- Both are derived data, written (and rewritten by a rerun of the same day) only by close of day; the
-- states have no foreign key to loans, whose check would cost a quarter of a close (a million lookups).
CREATE TABLE loan_daily_states (
    as_of                   date NOT NULL,
    loan_id                 uuid NOT NULL,
    lender_organization_id  uuid,
    currency                char(3) NOT NULL,
    outstanding_principal   numeric NOT NULL,
    accrued_interest        numeric NOT NULL,
    arrears                 numeric NOT NULL,
    days_past_due           integer NOT NULL CHECK (days_past_due >= 0),
    bucket                  text NOT NULL CHECK (bucket IN ('current', '1-30', '31-60', '61-90', '90+')),
    closed                  boolean NOT NULL,
    written_off             boolean NOT NULL,
    PRIMARY KEY (as_of, loan_id)
);

CREATE TABLE portfolio_daily_summaries (
    as_of                   date NOT NULL,
    lender_organization_id  uuid,
    currency                char(3) NOT NULL,
    loans                   integer NOT NULL,
    outstanding_principal   numeric NOT NULL,
    at_risk_30              numeric NOT NULL,
    at_risk_90              numeric NOT NULL,
    par30                   numeric NOT NULL,
    par90                   numeric NOT NULL,
    closed_at               timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX portfolio_daily_summaries_key
    ON portfolio_daily_summaries (as_of, coalesce(lender_organization_id, '00000000-0000-0000-0000-000000000000'), currency);

-- n / d rounded half-even to ``places`` decimals, exactly (n >= 0, d > 0), as Python's Decimal.quantize.
-- One expression without FROM, so that the planner inlines it.
CREATE FUNCTION ft_div_half_even(n numeric, d numeric, places integer) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT round(
        (div(n * 10::numeric ^ places, d)
         + CASE WHEN 2 * mod(n * 10::numeric ^ places, d) > d
                  OR (2 * mod(n * 10::numeric ^ places, d) = d AND mod(div(n * 10::numeric ^ places, d), 2) = 1)
                THEN 1 ELSE 0 END) / 10::numeric ^ places,
        places)
$$;
