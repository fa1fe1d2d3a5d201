# shellcheck shell=bash
# The database's roles, set up on a new volume's first start: the postgres
# image's entrypoint sources this from /docker-entrypoint-initdb.d (a config
# of docker-compose.prod.yml), as the superuser POSTGRES_USER, over the local
# socket. scripts/db-roles.sh does the same for a volume made before.
#
# web connects as APP_DB_USER, which owns POSTGRES_DB (and so every table
# web's migrations create) and nothing else: not a superuser (no COPY ... TO
# PROGRAM, no reading the server's files), no creating roles or databases,
# no connecting to any other database. The superuser has no password: only
# a process inside the db container reaches it, over the socket (backup and
# restore do, through docker compose exec).
psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 --username="$POSTGRES_USER" --dbname="$POSTGRES_DB" \
    --set=app="$APP_DB_USER" --set=db="$POSTGRES_DB" --set=superuser="$POSTGRES_USER" <<'SQL'
\set password `cat "$APP_DB_PASSWORD_FILE"`
CREATE ROLE :"app" LOGIN PASSWORD :'password';
ALTER DATABASE :"db" OWNER TO :"app";
REVOKE ALL ON DATABASE postgres, template1 FROM PUBLIC;
ALTER ROLE :"superuser" PASSWORD NULL;
SQL
