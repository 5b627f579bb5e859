-- Roles and grants for a team's shared runbook store on PostgreSQL (docs/team.md).
--
-- A DBA runs this file as a superuser, with psql, in two passes:
--   1. Before the store exists: it makes the roles and the database, and stops, saying so.
--   2. After runbook has opened the store once as the owner role (which creates the tables and
--      their append-only triggers): it grants the operator and auditor roles what they need on
--      the tables. PostgreSQL has no default privileges for single columns, so these grants can
--      only follow the tables.
-- Every pass can be repeated: what exists is left alone, and the table grants are set afresh
-- (revoked, then granted). Run pass 2 again after an upgrade that adds a table.
--
--   psql -X -v ON_ERROR_STOP=1 -d postgres -f scripts/pg-team-roles.sql \
--        -v dbname=runbook -v owner=runbook_owner \
--        -v operator=runbook_operator -v auditor=runbook_auditor
--
-- Each -v is optional; the values above are the defaults. The roles:
--   owner     a login role that owns the database and its tables; runbook's first open as this
--             role creates them. Only it (or a superuser) can disable the triggers, which is what
--             rewriting history takes, and `runbook audit verify` finds such edits. Nobody
--             deploys as it.
--   operator  a group role (NOLOGIN) with what run, recover, plan, approve, reject, runs,
--             replay, report and audit verify need: rows are added to events, runs, plans and
--             approvals; of those, only a run's end (state, exit_code, finished_at) and a plan's
--             status are ever updated; lock rows come and go; the chain head in meta moves.
--             Nothing of events or approvals can be updated or deleted.
--   auditor   a group role (NOLOGIN) that reads everything and writes nothing: for post-mortems
--             (runs, replay, report, audit verify, audit export).
-- People and CI machines get login roles of their own that are members of a group:
--   CREATE ROLE alice LOGIN IN ROLE runbook_operator;  \password alice

\set ON_ERROR_STOP on
\if :{?dbname}
\else
  \set dbname runbook
\endif
\if :{?owner}
\else
  \set owner runbook_owner
\endif
\if :{?operator}
\else
  \set operator runbook_operator
\endif
\if :{?auditor}
\else
  \set auditor runbook_auditor
\endif

-- Pass 1: the roles and the database.
SELECT format('CREATE ROLE %I LOGIN', :'owner')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I NOLOGIN', :'operator')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'operator') \gexec
SELECT format('CREATE ROLE %I NOLOGIN', :'auditor')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'auditor') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'dbname', :'owner')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'dbname') \gexec

-- Only these roles (and superusers) connect.
REVOKE ALL ON DATABASE :"dbname" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"dbname" TO :"operator", :"auditor";

\connect :"dbname"
-- runbook keeps its tables in the schema public; only the owner creates anything there.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO :"owner";
GRANT USAGE ON SCHEMA public TO :"operator", :"auditor";

SELECT count(*) = 6 AS runbook_tables_exist FROM pg_tables
WHERE schemaname = 'public'
  AND tablename IN ('meta', 'runs', 'events', 'locks', 'plans', 'approvals') \gset
\if :runbook_tables_exist
\else
  \echo 'pg-team-roles: the roles and the database' :dbname 'are ready.'
  \echo 'Next: open the store once as' :owner 'to create its tables, for example'
  \echo '  runbook audit verify --audit-db' postgresql://:owner@HOST/:dbname
  \echo 'then run this file again to grant on them (docs/team.md).'
  \quit
\endif

-- Pass 2: the grants on the tables, set afresh.
REVOKE ALL ON public.meta, public.runs, public.events, public.locks, public.plans,
  public.approvals FROM :"operator", :"auditor";

GRANT SELECT ON public.meta, public.runs, public.events, public.locks, public.plans,
  public.approvals TO :"operator", :"auditor";

-- Appends: every table gets new rows.
GRANT INSERT ON public.meta, public.runs, public.events, public.locks, public.plans,
  public.approvals TO :"operator";
-- The chain head moves with every append (and SELECT ... FOR UPDATE locks it).
GRANT UPDATE (value) ON public.meta TO :"operator";
-- A run's end; the append-only trigger lets it be written once.
GRANT UPDATE (state, exit_code, finished_at) ON public.runs TO :"operator";
-- A plan's status (pending, approved, rejected, executed); FOR SHARE in approve needs it too.
GRANT UPDATE (status) ON public.plans TO :"operator";
-- Locks are taken, beat and released.
GRANT UPDATE, DELETE ON public.locks TO :"operator";

\echo 'pg-team-roles: granted on the tables of' :dbname
