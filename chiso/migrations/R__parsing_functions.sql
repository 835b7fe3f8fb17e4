-- Source-format parsing, shared by ingest validation and dbt staging (one definition).
--
-- Vendors send dates, numbers and flags as text in many layouts (docs/sources.md). These
-- functions accept exactly the documented layouts and return null for anything else, so
-- ingest can reject a file naming the row and field before it commits, and staging can cast
-- without failing. Dates are day-first; a month-first reading is never attempted. Times are
-- Asia/Ho_Chi_Minh local; an explicit offset is converted to local time.

create or replace function raw.parse_vn_timestamp(value text) returns timestamp
language sql stable parallel safe as $$
    select case
        when (btrim(value)) is null or (btrim(value)) = '' then null
        -- yyyyMMddHHmmss (DVCQG sync format), yyyyMMddHHmm, yyyyMMdd
        when (btrim(value)) ~ '^\d{14}$' then case when pg_input_is_valid(
                regexp_replace((btrim(value)), '^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)$', '\1-\2-\3 \4:\5:\6'),
                'timestamp')
            then regexp_replace((btrim(value)), '^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)$',
                '\1-\2-\3 \4:\5:\6')::timestamp end
        when (btrim(value)) ~ '^\d{12}$' then case when pg_input_is_valid(
                regexp_replace((btrim(value)), '^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)$', '\1-\2-\3 \4:\5'),
                'timestamp')
            then regexp_replace((btrim(value)), '^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)$', '\1-\2-\3 \4:\5')::timestamp end
        when (btrim(value)) ~ '^\d{8}$' then case when pg_input_is_valid(
                regexp_replace((btrim(value)), '^(\d{4})(\d\d)(\d\d)$', '\1-\2-\3'), 'timestamp')
            then regexp_replace((btrim(value)), '^(\d{4})(\d\d)(\d\d)$', '\1-\2-\3')::timestamp end
        -- dd/MM/yyyy or dd-MM-yyyy or dd.MM.yyyy, optionally with HH:mm[:ss]
        when (btrim(value)) ~ '^\d{1,2}[/.-]\d{1,2}[/.-]\d{4}( +\d{1,2}:\d{2}(:\d{2})?)?$' then case
            when pg_input_is_valid(regexp_replace((btrim(value)),
                    '^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(.*)$', '\3-\2-\1\4'), 'timestamp')
            then regexp_replace((btrim(value)), '^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(.*)$',
                '\3-\2-\1\4')::timestamp end
        -- ISO 8601, with or without an offset
        when (btrim(value)) ~ '^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$' then case
            when pg_input_is_valid((btrim(value)), 'timestamp') then (btrim(value))::timestamp end
        when (btrim(value)) ~ '^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$' then
            case when pg_input_is_valid((btrim(value)), 'timestamptz')
            then ((btrim(value))::timestamptz at time zone 'Asia/Ho_Chi_Minh') end
        -- Excel serial day number (1927–2173), fraction = time of day
        when (btrim(value)) ~ '^\d{5}(\.\d+)?$' then
            timestamp '1899-12-30' + ((btrim(value))::numeric * interval '1 day')
    end
$$;

create or replace function raw.parse_vn_date(value text) returns date
language sql stable parallel safe as $$
    select raw.parse_vn_timestamp(value)::date
$$;

-- Integers: plain digits, or thousands grouped by '.' or ',' ("1.918", "12,338"), or an
-- Excel float with a zero fraction ("12.0").
create or replace function raw.parse_vn_int(value text) returns bigint
language sql immutable parallel safe as $$
    select case
        when (replace(btrim(value), ' ', '')) is null or (replace(btrim(value), ' ', '')) = '' then null
        when (replace(btrim(value), ' ', '')) ~ '^[+-]?\d{1,18}$' then (replace(btrim(value), ' ', ''))::bigint
        when (replace(btrim(value), ' ', '')) ~ '^[+-]?\d{1,3}(\.\d{3})+$' or (replace(btrim(value), ' ', '')) ~ '^[+-]?\d{1,3}(,\d{3})+$'
            then replace(replace((replace(btrim(value), ' ', '')), '.', ''), ',', '')::bigint
        when (replace(btrim(value), ' ', '')) ~ '^[+-]?\d{1,18}[.,]0+$' then regexp_replace((replace(btrim(value), ' ', '')), '[.,]0+$', '')::bigint
    end
$$;

-- Decimals, Vietnamese first: ',' is the decimal mark and '.' groups thousands; when both
-- appear the last one is the decimal mark; a lone '.' is a decimal point unless it groups
-- exactly three digits ("1.918" = 1918).
create or replace function raw.parse_vn_decimal(value text) returns numeric
language sql immutable parallel safe as $$
    select case
        when (replace(btrim(value), ' ', '')) is null or (replace(btrim(value), ' ', '')) = '' then null
        when (replace(btrim(value), ' ', '')) ~ '^[+-]?\d+$' then (replace(btrim(value), ' ', ''))::numeric
        when (replace(btrim(value), ' ', '')) ~ '^[+-]?\d{1,3}(\.\d{3})+$' then replace((replace(btrim(value), ' ', '')), '.', '')::numeric
        when (replace(btrim(value), ' ', '')) ~ '^[+-]?\d{1,3}(,\d{3}){2,}$' then replace((replace(btrim(value), ' ', '')), ',', '')::numeric
        when (replace(btrim(value), ' ', '')) ~ '^[+-]?\d{1,3}(\.\d{3})*,\d+$' then replace(replace((replace(btrim(value), ' ', '')), '.', ''), ',', '.')::numeric
        when (replace(btrim(value), ' ', '')) ~ '^[+-]?\d{1,3}(,\d{3})*\.\d+$' then replace((replace(btrim(value), ' ', '')), ',', '')::numeric
        when (replace(btrim(value), ' ', '')) ~ '^[+-]?\d+,\d+$' then replace((replace(btrim(value), ' ', '')), ',', '.')::numeric
        when (replace(btrim(value), ' ', '')) ~ '^[+-]?\d+\.\d+$' then (replace(btrim(value), ' ', ''))::numeric
    end
$$;

-- Percentages as printed ("12,34%", "12.34%", "93,5") become a fraction (0.1234). A value
-- without '%' is read as percent points when above 1, as a fraction otherwise.
create or replace function raw.parse_vn_percent(value text) returns numeric
language sql immutable parallel safe as $$
    select case
        when (replace(btrim(value), ' ', '')) is null or (replace(btrim(value), ' ', '')) = '' then null
        when (replace(btrim(value), ' ', '')) like '%\%' then raw.parse_vn_decimal(rtrim((replace(btrim(value), ' ', '')), '%')) / 100
        when raw.parse_vn_decimal((replace(btrim(value), ' ', ''))) > 1 then raw.parse_vn_decimal((replace(btrim(value), ' ', ''))) / 100
        else raw.parse_vn_decimal((replace(btrim(value), ' ', '')))
    end
$$;

-- Flags: 1/0, true/false, có/không (with or without diacritics), x/blank, yes/no.
create or replace function raw.parse_vn_bool(value text) returns boolean
language sql immutable parallel safe as $$
    select case
        when (lower(btrim(value))) is null or (lower(btrim(value))) = '' then null
        when (lower(btrim(value))) in ('1', 'true', 't', 'yes', 'y', 'x', 'có', 'co', 'c', 'đ', 'đúng', 'dung')
            then true
        when (lower(btrim(value))) in ('0', 'false', 'f', 'no', 'n', 'không', 'khong', 'k', '-') then false
    end
$$;

-- Does a non-empty value fail to parse as the canonical type? (ingest validation)
create or replace function raw.is_malformed(value text, field_type text) returns boolean
language sql stable parallel safe as $$
    select btrim(coalesce(value, '')) <> '' and case field_type
        -- cheap accept first: the common layouts with a day ≤ 28 are always valid dates
        when 'timestamp' then value !~ ('^(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|1\d|2[0-8])'
                || '([01]\d|2[0-3])[0-5]\d[0-5]\d$')
            and value !~ ('^(0?[1-9]|1\d|2[0-8])/(0?[1-9]|1[0-2])/(19|20)\d\d'
                || '( ([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?)?$')
            and raw.parse_vn_timestamp(value) is null
        when 'date' then raw.parse_vn_timestamp(value) is null
        when 'int' then raw.parse_vn_int(value) is null
        when 'decimal' then raw.parse_vn_decimal(value) is null
        when 'percent' then raw.parse_vn_percent(value) is null
        when 'bool' then raw.parse_vn_bool(value) is null
        else false
    end
$$;

-- An ID number in the one form it is hashed in (chiso/core/pii.py, canonical_id, which a test
-- holds equal to this): NFKC (full-width digits and no-break spaces to plain ones), without
-- spaces, dots and dashes, upper case, and an all-digit number without its leading zeros
-- (a spreadsheet that stored 001099012345 as a number delivers 1099012345).
create or replace function raw.canonical_id(value text) returns text
language sql immutable strict parallel safe as $$
    select case
        when cleaned ~ '^[0-9]+$' then coalesce(nullif(ltrim(cleaned, '0'), ''), '0')
        else cleaned
    end
    from (
        select upper(regexp_replace(normalize(value, nfkc), '[[:space:].-]', '', 'g')) as cleaned
    ) as c
$$;
