-- Personal data over its life (chiso/ingest/personal_data.py): retention past its period and
-- erasure of one person on request empty the personal fields of the records parked in
-- raw.rejected_records, as they do of raw's landing tables (which the loader owns).
grant update (record) on raw.rejected_records to :"loader";
