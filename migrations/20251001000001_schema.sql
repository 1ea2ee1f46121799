-- The reference KoproGo schema (see ../shared/reference/koprogo.md): KoproGo's tables,
-- columns and types (backend/migrations/) for what the reference server serves.
-- Primary keys, foreign keys, checks and unique constraints only: the performance
-- indexes (one per foreign key, pagination composites, the tuning guide's two) are
-- deliberately absent. Creating them is `koprogo-perf tune-db`'s job, so that the
-- difference they make stays measurable.

CREATE TABLE organizations (
    id                UUID PRIMARY KEY,
    name              TEXT NOT NULL,
    slug              TEXT NOT NULL UNIQUE,
    subscription_plan TEXT NOT NULL DEFAULT 'free'
        CHECK (subscription_plan IN ('free', 'starter', 'professional', 'enterprise')),
    max_buildings     INTEGER NOT NULL DEFAULT 10 CHECK (max_buildings > 0),
    max_users         INTEGER NOT NULL DEFAULT 10 CHECK (max_users > 0),
    is_active         BOOLEAN NOT NULL DEFAULT TRUE,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id              UUID PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    first_name      TEXT NOT NULL,
    last_name       TEXT NOT NULL,
    role            TEXT NOT NULL
        CHECK (role IN ('superadmin', 'syndic', 'accountant', 'board_member', 'owner')),
    organization_id UUID REFERENCES organizations (id) ON DELETE CASCADE,
    is_active       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE buildings (
    id                UUID PRIMARY KEY,
    organization_id   UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    address           TEXT NOT NULL,
    city              TEXT NOT NULL,
    postal_code       TEXT NOT NULL,
    country           TEXT NOT NULL DEFAULT 'Belgium',
    total_units       INTEGER NOT NULL CHECK (total_units > 0),
    construction_year INTEGER CHECK (construction_year BETWEEN 1000 AND 2100),
    total_tantiemes   INTEGER NOT NULL DEFAULT 1000 CHECK (total_tantiemes > 0),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE units (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    building_id     UUID NOT NULL REFERENCES buildings (id) ON DELETE CASCADE,
    unit_number     TEXT NOT NULL,
    unit_type       TEXT NOT NULL
        CHECK (unit_type IN ('apartment', 'parking', 'cellar', 'commercial', 'other')),
    floor           INTEGER,
    surface_area    DOUBLE PRECISION NOT NULL CHECK (surface_area > 0),
    quota           DOUBLE PRECISION NOT NULL CHECK (quota > 0 AND quota <= 10000),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (building_id, unit_number)
);

CREATE TABLE owners (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         UUID REFERENCES users (id) ON DELETE SET NULL,
    first_name      TEXT NOT NULL,
    last_name       TEXT NOT NULL,
    email           TEXT NOT NULL,
    phone           TEXT,
    address         TEXT NOT NULL,
    city            TEXT NOT NULL,
    postal_code     TEXT NOT NULL,
    country         TEXT NOT NULL DEFAULT 'Belgium',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE unit_owners (
    id                   UUID PRIMARY KEY,
    unit_id              UUID NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    owner_id             UUID NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    ownership_percentage NUMERIC(6, 5) NOT NULL
        CHECK (ownership_percentage > 0 AND ownership_percentage <= 1),
    start_date           TIMESTAMPTZ NOT NULL,
    end_date             TIMESTAMPTZ CHECK (end_date IS NULL OR end_date >= start_date),
    is_primary_contact   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The shares of a unit's current owners (end_date IS NULL) must not exceed 1.
CREATE FUNCTION check_unit_ownership_total() RETURNS trigger AS $$
BEGIN
    IF (SELECT COALESCE(SUM(ownership_percentage), 0) FROM unit_owners
        WHERE unit_id = NEW.unit_id AND end_date IS NULL) > 1 THEN
        RAISE EXCEPTION 'current ownership of unit % exceeds 100%%', NEW.unit_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER unit_ownership_total
    AFTER INSERT OR UPDATE ON unit_owners
    FOR EACH ROW EXECUTE FUNCTION check_unit_ownership_total();

CREATE TABLE expenses (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    building_id     UUID NOT NULL REFERENCES buildings (id) ON DELETE CASCADE,
    category        TEXT NOT NULL
        CHECK (category IN ('maintenance', 'repairs', 'insurance', 'utilities', 'cleaning',
                            'administration', 'works', 'other')),
    description     TEXT NOT NULL,
    amount          NUMERIC(12, 2) NOT NULL CHECK (amount > 0),
    expense_date    TIMESTAMPTZ NOT NULL,
    payment_status  TEXT NOT NULL DEFAULT 'pending'
        CHECK (payment_status IN ('pending', 'paid', 'overdue', 'cancelled')),
    -- KoproGo's column and values. The tuning guide's query and index name a
    -- `status = 'Approved'` that KoproGo no longer has; its intent is this column.
    approval_status TEXT NOT NULL DEFAULT 'draft'
        CHECK (approval_status IN ('draft', 'pending_approval', 'approved', 'rejected')),
    supplier        TEXT,
    invoice_number  TEXT,
    account_code    TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- PCMN: the Belgian minimum standard chart of accounts, per organization.
CREATE TABLE accounts (
    id              UUID PRIMARY KEY,
    code            TEXT NOT NULL,
    label           TEXT NOT NULL,
    parent_code     TEXT,
    account_type    TEXT NOT NULL
        CHECK (account_type IN ('ASSET', 'LIABILITY', 'EXPENSE', 'REVENUE', 'OFF_BALANCE')),
    direct_use      BOOLEAN NOT NULL DEFAULT TRUE,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (code, organization_id)
);

CREATE TABLE meetings (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    building_id     UUID NOT NULL REFERENCES buildings (id) ON DELETE CASCADE,
    meeting_type    TEXT NOT NULL CHECK (meeting_type IN ('ordinary', 'extraordinary')),
    title           TEXT NOT NULL,
    scheduled_date  TIMESTAMPTZ NOT NULL,
    location        TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'scheduled'
        CHECK (status IN ('scheduled', 'completed', 'cancelled')),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
