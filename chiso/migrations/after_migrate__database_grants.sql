-- Who may connect to the warehouse database, and who may create temporary tables there.
--
-- Applied after every migration run, not once: these rights belong to the database itself,
-- not to its contents, so a copy of the database (CREATE DATABASE … TEMPLATE) or a restore
-- into a new one does not carry them, while its record of applied migrations comes along.

revoke all on database :"database" from public;
grant connect on database :"database" to :"loader", :"transformer", :"bi_reader";
-- dbt unit tests and incremental models stage rows in temporary tables
grant temporary on database :"database" to :"transformer";
-- change pulls stage the changed records in temporary tables before they replace raw rows
grant temporary on database :"database" to :"loader";
-- the scoped BI logins (ops.access_scopes; `chiso access grant`), which a copy also loses
do $$
declare
    login text;
begin
    if to_regclass('ops.access_scopes') is null then
        return;
    end if;
    for login in
        select s.role_name from ops.access_scopes as s
        inner join pg_roles as r on r.rolname = s.role_name
    loop
        execute format('grant connect on database %I to %I', current_database(), login);
    end loop;
end
$$;
