#!/usr/bin/env bash
# Once, for a database volume created before web had a role of its own (make
# prod-db-roles): there, web's role POSTGRES_USER is the superuser the
# postgres image made. Afterwards the volume is as scripts/db-init.sh sets up
# a new one: the superuser is "postgres", without a password, and web's role
# owns the database and its objects and nothing more.
#
# That superuser cannot lose its rights (PostgreSQL keeps the role that
# created the cluster a superuser), so it is renamed to postgres, web's role
# is created anew with the same password, and the database and each of its
# tables, views and sequences are given to it. web is stopped meanwhile (its
# sessions would carry on as the renamed superuser) and started again after:
# a few seconds without the shop. Running it again changes nothing.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

require_settings
require_running db

# psql_as ROLE DATABASE: the SQL on stdin, in the db container, over its
# socket as ROLE; :"app" is web's role, :"db" the shop's database.
psql_as() {
    # shellcheck disable=SC2016  # expanded by the container's shell
    "${compose[@]}" exec -T db sh -c 'exec psql --no-psqlrc --quiet --tuples-only --no-align --set=ON_ERROR_STOP=1 \
        --username="$1" --dbname="$2" --set=app="$APP_DB_USER" --set=db="$POSTGRES_DB"' psql "$1" "$2"
}

app="$(setting POSTGRES_USER babyshop)"
database="$(setting POSTGRES_DB babyshop)"
superuser="$(psql_as "$app" "$database" <<<'SELECT rolsuper FROM pg_roles WHERE rolname = current_user;')" \
    || fail "cannot connect to the database $database as $app (the error is above)"
# give_tables: every relation of the shop's schemas that web's role does not
# own yet becomes its own (the sequences of identity and serial columns
# follow their tables, and refuse to be given away alone); the helper role of
# an interrupted run goes. Changes nothing the second time.
give_tables() {
    psql_as postgres "$database" <<'SQL' >/dev/null
SELECT format('ALTER TABLE %s OWNER TO %I', c.oid::regclass, :'app')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
    AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = :'app')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
    AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                    AND d.deptype IN ('a', 'i'))
\gexec
DROP ROLE IF EXISTS db_roles_migration;
SQL
}

if [ "$superuser" != t ]; then
    give_tables || fail "could not give the tables to web's role (the error is above)"
    echo "db-roles: web's role $app is not a superuser: nothing to do"
    exit 0
fi

echo "db-roles: stopping web and the worker while their role changes"
"${compose[@]}" stop web worker
step() { trap - EXIT; fail "$1 (the error is above): web is stopped; run make prod-db-roles again, then make prod-up"; }
trap 'step "interrupted"' EXIT

# A second superuser for the renaming: a role cannot rename itself.
psql_as "$app" postgres <<<'DROP ROLE IF EXISTS db_roles_migration; CREATE ROLE db_roles_migration SUPERUSER LOGIN;' \
    || step "could not create a helper role"
psql_as db_roles_migration postgres <<'SQL' >/dev/null || step "could not rename the superuser and create web's role"
\set password `cat "$APP_DB_PASSWORD_FILE"`
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :'app' AND pid <> pg_backend_pid();
BEGIN;
ALTER ROLE :"app" RENAME TO postgres;
ALTER ROLE postgres PASSWORD NULL;
CREATE ROLE :"app" LOGIN PASSWORD :'password';
ALTER DATABASE :"db" OWNER TO :"app";
REVOKE ALL ON DATABASE postgres, template1 FROM PUBLIC;
COMMIT;
SQL
give_tables || step "could not give the tables to web's role"
trap - EXIT

"${compose[@]}" up --detach --wait --no-build web
echo "db-roles: web connects as $app, the owner of its database without superuser rights; the superuser is postgres, reached only inside the db container"
