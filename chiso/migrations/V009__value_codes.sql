-- What each value of a coded field means (chiso/ingest/vocabulary.py): exports print words
-- where the national sync format has codes ("Đã trả kết quả" for status 10, "Trực tuyến" for
-- channel 2). Raw keeps what the source sent; ingest records here, in the transaction that
-- lands a delivery, the code of every distinct value it brought, and staging joins on it.
-- A value with no code never lands (its delivery is refused and, for a file, quarantined).

create table if not exists raw.value_codes (
    field        text not null,
    value        text not null,
    code         text not null,
    recorded_at  timestamptz not null default now(),
    primary key (field, value)
);
comment on table raw.value_codes is
    'The code each value of a coded field stands for, as ingest read it from the vocabularies '
    '(chiso/sources/vocabularies.yaml and the deployment''s aliases.yaml): field is '
    'entity.field (e.g. one_stop.dossiers.trang_thai_ho_so), value the trimmed text raw holds.';

grant select, insert, update on raw.value_codes to :"loader";
grant select on raw.value_codes to :"transformer";
