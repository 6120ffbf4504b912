#!/bin/sh
# Runs once, when the TimescaleDB data volume is first created (docker-entrypoint-initdb.d):
# the owner role `nabd` (not a superuser) and its database, the TimescaleDB extension (which
# needs a superuser to create), and one login per service in its group role, as `nabd stack`
# does locally. The migrations (`nabd db migrate`) create everything else.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v owner="$NABD_DB_OWNER_PASSWORD" <<'SQL'
CREATE ROLE nabd LOGIN CREATEDB CREATEROLE PASSWORD :'owner';
CREATE DATABASE nabd OWNER nabd;
SQL
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname nabd \
     -v ingest="$NABD_INGEST_DB_PASSWORD" \
     -v analytics="$NABD_ANALYTICS_DB_PASSWORD" \
     -v dashboards="$NABD_DASHBOARDS_DB_PASSWORD" <<'SQL'
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE ROLE nabd_ingest NOLOGIN;
CREATE ROLE nabd_analytics NOLOGIN;
CREATE ROLE nabd_dashboards NOLOGIN;
CREATE ROLE nabd_clinical NOLOGIN;
CREATE ROLE ingest LOGIN PASSWORD :'ingest' IN ROLE nabd_ingest;
CREATE ROLE analytics LOGIN PASSWORD :'analytics' IN ROLE nabd_analytics;
CREATE ROLE dashboards LOGIN PASSWORD :'dashboards' IN ROLE nabd_dashboards;
SQL
