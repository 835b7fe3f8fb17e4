-- What each dbt build read (chiso/transform/build_inputs.py): a build whose inputs are the
-- same as the last successful one's writes the same rows, so a close run again with nothing
-- new since (a replayed close, a re-run DAG) skips dbt and publishes what is built.
--   inputs_digest  sha256 of the dbt project's fingerprint and of the ids of the ledger's
--                  loaded batches: what the incremental models decide from.
-- An interrupted or failed build leaves its row 'attempt' in ops.dbt_build_state (a
-- successful one removes it), so the next build always runs.

alter table ops.dbt_builds add column if not exists inputs_digest text;
comment on column ops.dbt_builds.inputs_digest is
    'sha256 of the dbt project fingerprint and the ids of raw''s loaded batches the build '
    'read; null for builds made before V008.';
comment on column ops.dbt_builds.build_month is
    'The month the build was asked for (CHISO_BUILD_MONTH): its periods were built; null: '
    'a build of every period without a month.';
grant delete on ops.dbt_build_state to :"transformer";
