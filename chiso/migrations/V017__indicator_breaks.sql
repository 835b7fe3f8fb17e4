-- Declared breaks (reference/ref_indicator_breaks.csv, chiso/reference/files.py): the months
-- an indicator's definition or scope changed by decision (NĐ 42/2022 regraded the online
-- services from 1 August 2022), so that its volume is not comparable with the month before.
-- The gate's volume check leaves such an indicator-month out, and the report says the change
-- from the previous month is not comparable, with the legal basis. A file an operator edits
-- like the other reference files: loaded by `chiso reference load` after its GX suite.

create table if not exists reference.indicator_breaks (
    indicator_code  text not null,
    province_code   text,  -- none: a national break, for every province
    break_month     date not null check (break_month = date_trunc('month', break_month)::date),
    description     text not null,
    legal_basis     text not null
);
create unique index if not exists indicator_breaks_key
    on reference.indicator_breaks (indicator_code, coalesce(province_code, ''), break_month);

grant select, insert, delete, truncate on reference.indicator_breaks to :"loader";
grant select on reference.indicator_breaks to :"transformer";
