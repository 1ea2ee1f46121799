//! The seed's rows, generated in memory without a database: column vectors ready to be
//! bound as arrays, one struct per table.
//!
//! Everything comes from one ChaCha8 stream seeded with `--rng-seed`. That stream
//! first gives the password salts, then one 32-byte seed per organization, in order;
//! each organization's rows come from its own stream, so organization *i* is the same
//! whatever the scale, and the rows never depend on the clock.

use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, TimeZone, Utc};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

use super::names::{self, City, EXPENSE_KINDS, ExpenseKind, Region};
use super::pcmn::ACCOUNTS;

/// Invoices per building: enough that the tuning guide's expense query has work to do.
pub const EXPENSES_PER_BUILDING: usize = 50;

/// "Today" for the seeded data: every date is placed relative to it, never to now().
pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 10, 1, 0, 0, 0).unwrap()
}

fn base_date() -> NaiveDate {
    base_time().date_naive()
}

/// One of the three organizations of KoproGo's realistic seed; scale N repeats them.
pub struct Shape {
    pub slug: &'static str,
    pub name: &'static str,
    plan: &'static str,
    max_buildings: i32,
    max_users: i32,
    pub buildings: usize,
    pub units: usize,
    pub owners: usize,
    /// Where its buildings are, with relative weights.
    regions: &'static [(Region, u32)],
}

pub static SHAPES: [Shape; 3] = [
    Shape {
        slug: "grandplace",
        name: "Syndic Grand-Place",
        plan: "starter",
        max_buildings: 10,
        max_users: 10,
        buildings: 5,
        units: 30,
        owners: 20,
        regions: &[(Region::Brussels, 1)],
    },
    Shape {
        slug: "sablon",
        name: "Gérance du Sablon",
        plan: "professional",
        max_buildings: 20,
        max_users: 25,
        buildings: 8,
        units: 60,
        owners: 40,
        regions: &[(Region::Brussels, 1), (Region::Wallonia, 1)],
    },
    Shape {
        slug: "meir",
        name: "Meir Vastgoedbeheer",
        plan: "enterprise",
        max_buildings: 50,
        max_users: 100,
        buildings: 10,
        units: 100,
        owners: 66,
        regions: &[(Region::Flanders, 4), (Region::Brussels, 1)],
    },
];

/// The demo users of every organization: e-mail prefix, password, role, in insert order.
/// The syndic comes first: it is the login `demo_logins` announces.
pub const DEMO_USERS: [(&str, &str, &str); 3] = [
    ("syndic", "syndic123", "syndic"),
    ("accountant", "accountant123", "accountant"),
    ("owner", "owner123", "owner"),
];

/// Organization `index` (0-based): its shape, slug and display name. The first three
/// are `grandplace`, `sablon`, `meir`; the next round is `grandplace-2`, and so on.
pub fn organization(index: usize) -> (&'static Shape, String, String) {
    let shape = &SHAPES[index % SHAPES.len()];
    let round = index / SHAPES.len() + 1;
    if round == 1 {
        (shape, shape.slug.to_string(), shape.name.to_string())
    } else {
        (
            shape,
            format!("{}-{round}", shape.slug),
            format!("{} {round}", shape.name),
        )
    }
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Organizations {
    pub id: Vec<Uuid>,
    pub name: Vec<String>,
    pub slug: Vec<String>,
    pub subscription_plan: Vec<&'static str>,
    pub max_buildings: Vec<i32>,
    pub max_users: Vec<i32>,
    pub created_at: Vec<DateTime<Utc>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Users {
    pub id: Vec<Uuid>,
    pub email: Vec<String>,
    /// The plain demo password; the insert swaps in its bcrypt hash.
    pub password: Vec<&'static str>,
    pub first_name: Vec<&'static str>,
    pub last_name: Vec<&'static str>,
    pub role: Vec<&'static str>,
    pub organization_id: Vec<Uuid>,
    pub created_at: Vec<DateTime<Utc>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Buildings {
    pub id: Vec<Uuid>,
    pub organization_id: Vec<Uuid>,
    pub name: Vec<&'static str>,
    pub address: Vec<String>,
    pub city: Vec<&'static str>,
    pub postal_code: Vec<&'static str>,
    pub total_units: Vec<i32>,
    pub construction_year: Vec<i32>,
    pub created_at: Vec<DateTime<Utc>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Units {
    pub id: Vec<Uuid>,
    pub organization_id: Vec<Uuid>,
    pub building_id: Vec<Uuid>,
    pub unit_number: Vec<String>,
    pub unit_type: Vec<&'static str>,
    pub floor: Vec<i32>,
    pub surface_area: Vec<f64>,
    /// Tantièmes: the units of a building share 1000.
    pub quota: Vec<f64>,
    pub created_at: Vec<DateTime<Utc>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Owners {
    pub id: Vec<Uuid>,
    pub organization_id: Vec<Uuid>,
    pub user_id: Vec<Option<Uuid>>,
    pub first_name: Vec<&'static str>,
    pub last_name: Vec<&'static str>,
    pub email: Vec<String>,
    pub phone: Vec<Option<String>>,
    pub address: Vec<String>,
    pub city: Vec<&'static str>,
    pub postal_code: Vec<&'static str>,
    pub created_at: Vec<DateTime<Utc>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct UnitOwners {
    pub id: Vec<Uuid>,
    pub unit_id: Vec<Uuid>,
    pub owner_id: Vec<Uuid>,
    /// The share in basis points (10000 = the whole unit), stored as numeric(6,5).
    pub share_bp: Vec<i32>,
    pub start_date: Vec<NaiveDate>,
    pub end_date: Vec<Option<NaiveDate>>,
    pub is_primary_contact: Vec<bool>,
    pub created_at: Vec<DateTime<Utc>>,
    pub updated_at: Vec<DateTime<Utc>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Expenses {
    pub id: Vec<Uuid>,
    pub organization_id: Vec<Uuid>,
    pub building_id: Vec<Uuid>,
    pub category: Vec<&'static str>,
    pub description: Vec<String>,
    /// Euro cents, stored as numeric(12,2).
    pub amount_cents: Vec<i64>,
    pub expense_date: Vec<NaiveDate>,
    pub payment_status: Vec<&'static str>,
    /// KoproGo's `approval_status` values (`approved`, …).
    pub approval_status: Vec<&'static str>,
    pub supplier: Vec<&'static str>,
    pub invoice_number: Vec<Option<String>>,
    pub account_code: Vec<&'static str>,
    pub created_at: Vec<DateTime<Utc>>,
    pub updated_at: Vec<DateTime<Utc>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Accounts {
    pub id: Vec<Uuid>,
    pub code: Vec<&'static str>,
    pub label: Vec<&'static str>,
    pub parent_code: Vec<Option<&'static str>>,
    pub account_type: Vec<&'static str>,
    pub direct_use: Vec<bool>,
    pub organization_id: Vec<Uuid>,
    pub created_at: Vec<DateTime<Utc>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Meetings {
    pub id: Vec<Uuid>,
    pub organization_id: Vec<Uuid>,
    pub building_id: Vec<Uuid>,
    pub meeting_type: Vec<&'static str>,
    pub title: Vec<String>,
    pub scheduled_date: Vec<DateTime<Utc>>,
    pub location: Vec<String>,
    pub status: Vec<&'static str>,
    pub created_at: Vec<DateTime<Utc>>,
    pub updated_at: Vec<DateTime<Utc>>,
}

/// The rows of a run of consecutive organizations, inserted together.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Batch {
    pub organizations: Organizations,
    pub users: Users,
    pub buildings: Buildings,
    pub units: Units,
    pub owners: Owners,
    pub unit_owners: UnitOwners,
    pub expenses: Expenses,
    pub accounts: Accounts,
    pub meetings: Meetings,
}

/// The random material a seed run starts from: password salts and per-organization
/// seeds, drawn in that order from the `--rng-seed` stream.
pub struct SeedMaterial {
    /// One 16-byte salt per entry of [`DEMO_USERS`].
    pub salts: [[u8; 16]; DEMO_USERS.len()],
    org_seeds: Vec<[u8; 32]>,
    /// The superadmin's salt, drawn after the organizations' seeds (so that adding it
    /// changed none of their rows).
    pub admin_salt: [u8; 16],
}

impl SeedMaterial {
    pub fn new(scale: u32, rng_seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(rng_seed);
        let salts = std::array::from_fn(|_| rng.random());
        let organizations = scale as usize * SHAPES.len();
        let org_seeds = (0..organizations).map(|_| rng.random()).collect();
        let admin_salt = rng.random();
        Self {
            salts,
            org_seeds,
            admin_salt,
        }
    }

    pub fn organizations(&self) -> usize {
        self.org_seeds.len()
    }

    /// Appends organization `index` and everything it owns to `batch`.
    pub fn generate_into(&self, index: usize, batch: &mut Batch) {
        let rng = ChaCha8Rng::from_seed(self.org_seeds[index]);
        OrgGen { rng, batch }.generate(index);
    }

    /// Organizations `range`, as one batch.
    pub fn batch(&self, range: std::ops::Range<usize>) -> Batch {
        let mut batch = Batch::default();
        for index in range {
            self.generate_into(index, &mut batch);
        }
        batch
    }
}

fn new_id(rng: &mut ChaCha8Rng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    items.choose(rng).expect("seed tables are not empty")
}

fn pick_weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
    let total: u32 = items.iter().map(&weight).sum();
    let mut ticket = rng.random_range(0..total);
    for item in items {
        let w = weight(item);
        if ticket < w {
            return item;
        }
        ticket -= w;
    }
    unreachable!("the ticket is below the total weight")
}

fn date_between(rng: &mut ChaCha8Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let span = (to - from).num_days();
    from + Days::new(rng.random_range(0..=span) as u64)
}

fn at(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    date.and_hms_opt(hour, minute, 0).unwrap().and_utc()
}

fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

/// Splits `total` into integer parts proportional to `weights` (largest remainder),
/// none below 1.
fn apportion(total: u32, weights: &[f64]) -> Vec<u32> {
    let sum: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| w / sum * f64::from(total)).collect();
    let mut parts: Vec<u32> = exact.iter().map(|e| (e.floor() as u32).max(1)).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Largest fractional part first; index breaks ties so the order is total.
    order.sort_by(|&a, &b| {
        let fa = exact[a] - exact[a].floor();
        let fb = exact[b] - exact[b].floor();
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    let mut assigned: u32 = parts.iter().sum();
    let mut i = 0;
    while assigned < total {
        parts[order[i % order.len()]] += 1;
        assigned += 1;
        i += 1;
    }
    while assigned > total {
        // Only when the floor of 1 pushed the sum over: take from the largest part.
        let largest = (0..parts.len())
            .max_by_key(|&k| (parts[k], usize::MAX - k))
            .unwrap();
        parts[largest] -= 1;
        assigned -= 1;
    }
    parts
}

struct OrgGen<'a> {
    rng: ChaCha8Rng,
    batch: &'a mut Batch,
}

/// A building as the later steps of one organization's generation need it.
struct BuildingInfo {
    id: Uuid,
    address: String,
    city: &'static City,
    created_at: DateTime<Utc>,
    /// Index range of its units in `batch.units`.
    units: std::ops::Range<usize>,
}

impl OrgGen<'_> {
    fn generate(mut self, index: usize) {
        let (shape, slug, name) = organization(index);
        let org_id = new_id(&mut self.rng);
        let onboarded = at(
            base_date() - Days::new(self.rng.random_range(400..=1000)),
            self.rng.random_range(7..=16),
            self.rng.random_range(0..60),
        );
        let orgs = &mut self.batch.organizations;
        orgs.id.push(org_id);
        orgs.name.push(name.clone());
        orgs.slug.push(slug.clone());
        orgs.subscription_plan.push(shape.plan);
        orgs.max_buildings.push(shape.max_buildings);
        orgs.max_users.push(shape.max_users);
        orgs.created_at.push(onboarded);

        let owner_user = self.users(org_id, &slug, onboarded);
        let buildings = self.buildings(org_id, shape, onboarded);
        let owners = self.owners(org_id, shape, &slug, &buildings, owner_user, onboarded);
        self.unit_owners(&buildings, &owners, onboarded);
        self.accounts(org_id, onboarded);
        for building in &buildings {
            self.expenses(org_id, building, onboarded);
        }
        for building in &buildings {
            self.meetings(org_id, &name, building);
        }
    }

    /// The demo users; returns the owner user's id and name for the owner it is.
    fn users(
        &mut self,
        org_id: Uuid,
        slug: &str,
        onboarded: DateTime<Utc>,
    ) -> (Uuid, &'static str, &'static str) {
        let mut owner_user = None;
        for (i, (prefix, password, role)) in DEMO_USERS.iter().enumerate() {
            let id = new_id(&mut self.rng);
            let first = *pick(&mut self.rng, names::FIRST_NAMES);
            let last = *pick(&mut self.rng, names::LAST_NAMES);
            let users = &mut self.batch.users;
            users.id.push(id);
            users.email.push(format!("{prefix}@{slug}.be"));
            users.password.push(password);
            users.first_name.push(first);
            users.last_name.push(last);
            users.role.push(role);
            users.organization_id.push(org_id);
            users
                .created_at
                .push(onboarded + Duration::minutes(i as i64 + 1));
            if *role == "owner" {
                owner_user = Some((id, first, last));
            }
        }
        owner_user.expect("DEMO_USERS has an owner")
    }

    fn region(&mut self, shape: &Shape) -> Region {
        pick_weighted(&mut self.rng, shape.regions, |(_, w)| *w).0
    }

    fn street_address(&mut self, region: Region) -> String {
        let street = pick(&mut self.rng, names::streets(region));
        let number = self.rng.random_range(1..=240);
        format!("{street} {number}")
    }

    fn buildings(
        &mut self,
        org_id: Uuid,
        shape: &Shape,
        onboarded: DateTime<Utc>,
    ) -> Vec<BuildingInfo> {
        // Units per building: at least 3 each, the rest spread at random.
        let mut counts = vec![3usize; shape.buildings];
        for _ in 0..shape.units - 3 * shape.buildings {
            counts[self.rng.random_range(0..shape.buildings)] += 1;
        }
        let mut infos = Vec::with_capacity(shape.buildings);
        for (b, &unit_count) in counts.iter().enumerate() {
            let id = new_id(&mut self.rng);
            let region = self.region(shape);
            let city = {
                let cities: Vec<&'static City> = names::cities_in(region).collect();
                *pick(&mut self.rng, &cities)
            };
            let address = self.street_address(region);
            let name = *pick(&mut self.rng, names::residences(region));
            let year = self.rng.random_range(1905..=2023);
            let created_at = onboarded + Duration::days(1) + Duration::minutes(10 * b as i64);
            let bs = &mut self.batch.buildings;
            bs.id.push(id);
            bs.organization_id.push(org_id);
            bs.name.push(name);
            bs.address.push(address.clone());
            bs.city.push(city.name);
            bs.postal_code.push(city.postal_code);
            bs.total_units.push(unit_count as i32);
            bs.construction_year.push(year);
            bs.created_at.push(created_at);
            let first_unit = self.batch.units.id.len();
            self.units(org_id, id, unit_count, created_at);
            infos.push(BuildingInfo {
                id,
                address,
                city,
                created_at,
                units: first_unit..first_unit + unit_count,
            });
        }
        infos
    }

    fn units(&mut self, org_id: Uuid, building_id: Uuid, count: usize, created_at: DateTime<Utc>) {
        const TYPES: [(&str, u32); 5] = [
            ("apartment", 75),
            ("parking", 12),
            ("cellar", 8),
            ("commercial", 3),
            ("other", 2),
        ];
        let mut types: Vec<&'static str> = vec!["apartment"];
        for _ in 1..count {
            types.push(pick_weighted(&mut self.rng, &TYPES, |(_, w)| *w).0);
        }
        // Apartments first, then the ground floor, then the basement, as a syndic lists them.
        let rank = |t: &str| match t {
            "apartment" => 0,
            "commercial" => 1,
            "other" => 2,
            "parking" => 3,
            _ => 4,
        };
        types.sort_by_key(|t| rank(t));
        let has_shop = types.contains(&"commercial");
        let per_floor = self.rng.random_range(2..=4);
        let mut seen = [0usize; 5];
        let mut surfaces = Vec::with_capacity(count);
        for (j, unit_type) in types.iter().enumerate() {
            let k = rank(unit_type);
            let n = seen[k];
            seen[k] += 1;
            let (number, floor, surface) = match *unit_type {
                "apartment" => {
                    let floor = (n / per_floor) as i32 + i32::from(has_shop);
                    let number = format!("A{floor}.{:02}", n % per_floor + 1);
                    (number, floor, self.rng.random_range(450..=1650))
                }
                "commercial" => (
                    format!("R{:02}", n + 1),
                    0,
                    self.rng.random_range(600..=2500),
                ),
                "other" => (
                    format!("L{:02}", n + 1),
                    0,
                    self.rng.random_range(100..=400),
                ),
                "parking" => (
                    format!("P{:02}", n + 1),
                    -1,
                    self.rng.random_range(110..=180),
                ),
                _ => (
                    format!("C{:02}", n + 1),
                    -1,
                    self.rng.random_range(40..=120),
                ),
            };
            let surface = f64::from(surface) / 10.0;
            surfaces.push(surface);
            let units = &mut self.batch.units;
            units.id.push(new_id(&mut self.rng));
            units.organization_id.push(org_id);
            units.building_id.push(building_id);
            units.unit_number.push(number);
            units.unit_type.push(unit_type);
            units.floor.push(floor);
            units.surface_area.push(surface);
            units
                .created_at
                .push(created_at + Duration::seconds(j as i64));
        }
        self.batch
            .units
            .quota
            .extend(apportion(1000, &surfaces).into_iter().map(f64::from));
    }

    fn owners(
        &mut self,
        org_id: Uuid,
        shape: &Shape,
        slug: &str,
        buildings: &[BuildingInfo],
        (user_id, user_first, user_last): (Uuid, &'static str, &'static str),
        onboarded: DateTime<Utc>,
    ) -> Vec<Uuid> {
        let mut ids = Vec::with_capacity(shape.owners);
        for i in 0..shape.owners {
            let id = new_id(&mut self.rng);
            let (first, last, user, email) = if i == 0 {
                // The owner demo user's own owner record.
                let email = format!("owner@{slug}.be");
                (user_first, user_last, Some(user_id), email)
            } else {
                let first = *pick(&mut self.rng, names::FIRST_NAMES);
                let last = *pick(&mut self.rng, names::LAST_NAMES);
                let domain = pick(&mut self.rng, names::EMAIL_DOMAINS);
                let suffix = if self.rng.random_bool(0.2) {
                    self.rng.random_range(10..100).to_string()
                } else {
                    String::new()
                };
                let email = format!(
                    "{}.{}{suffix}@{domain}",
                    names::email_part(first),
                    names::email_part(last)
                );
                (first, last, None, email)
            };
            let phone = match self.rng.random_range(0..100) {
                0..85 => Some(format!(
                    "+32 4{}{} {:02} {:02} {:02}",
                    self.rng.random_range(7..=9),
                    self.rng.random_range(0..10),
                    self.rng.random_range(0..100),
                    self.rng.random_range(0..100),
                    self.rng.random_range(0..100)
                )),
                85..95 => Some(format!(
                    "+32 2 {:03} {:02} {:02}",
                    self.rng.random_range(200..800),
                    self.rng.random_range(0..100),
                    self.rng.random_range(0..100)
                )),
                _ => None,
            };
            // Most owners live in one of the buildings; the others elsewhere in the region.
            let (address, city) = if self.rng.random_bool(0.55) {
                let b = pick(&mut self.rng, buildings);
                let box_number = self.rng.random_range(1..=40);
                (format!("{} bte {box_number}", b.address), b.city)
            } else {
                let region = self.region(shape);
                let cities: Vec<&'static City> = names::cities_in(region).collect();
                let city = *pick(&mut self.rng, &cities);
                (self.street_address(region), city)
            };
            let o = &mut self.batch.owners;
            o.id.push(id);
            o.organization_id.push(org_id);
            o.user_id.push(user);
            o.first_name.push(first);
            o.last_name.push(last);
            o.email.push(email);
            o.phone.push(phone);
            o.address.push(address);
            o.city.push(city.name);
            o.postal_code.push(city.postal_code);
            o.created_at
                .push(onboarded + Duration::days(2) + Duration::minutes(i as i64));
            ids.push(id);
        }
        ids
    }

    /// Current owners of every unit (one, sometimes two sharing it) and, for about a
    /// third of the units, the owners before them (end_date set).
    fn unit_owners(
        &mut self,
        buildings: &[BuildingInfo],
        owners: &[Uuid],
        onboarded: DateTime<Utc>,
    ) {
        // Owner 0 (the demo owner user) first, the others shuffled: the first
        // dwellings go to distinct owners so that nearly every owner owns something.
        let mut queue: Vec<usize> = (1..owners.len()).collect();
        queue.shuffle(&mut self.rng);
        queue.insert(0, 0);
        let mut next_owner = 0;
        let mut owns = vec![false; owners.len()];
        let imported = onboarded + Duration::days(2);
        for building in buildings {
            let mut dwelling_owners = Vec::new();
            for u in building.units.clone() {
                let unit_type = self.batch.units.unit_type[u];
                let annex = matches!(unit_type, "parking" | "cellar");
                let primary = if annex && !dwelling_owners.is_empty() && self.rng.random_bool(0.7) {
                    *pick(&mut self.rng, &dwelling_owners)
                } else if !annex && next_owner < queue.len() {
                    next_owner += 1;
                    queue[next_owner - 1]
                } else {
                    self.rng.random_range(0..owners.len())
                };
                if !annex {
                    dwelling_owners.push(primary);
                }
                let co_owner = if unit_type == "apartment" && self.rng.random_bool(0.22) {
                    let other = self.rng.random_range(0..owners.len() - 1);
                    Some(if other >= primary { other + 1 } else { other })
                } else {
                    None
                };
                let past_count = match self.rng.random_range(0..100) {
                    0..65 => 0,
                    65..92 => 1,
                    _ => 2,
                };
                let start = if past_count == 0 {
                    date_between(&mut self.rng, ymd(1985, 1, 1), ymd(2025, 6, 30))
                } else {
                    date_between(&mut self.rng, ymd(2005, 1, 1), ymd(2025, 6, 30))
                };
                let unit_id = self.batch.units.id[u];
                let shares = match co_owner {
                    None => vec![(primary, 10_000)],
                    Some(other) => {
                        let first = *pick(&mut self.rng, &[5_000, 5_000, 6_000, 7_000, 7_500]);
                        vec![(primary, first), (other, 10_000 - first)]
                    }
                };
                for (k, &(owner, bp)) in shares.iter().enumerate() {
                    owns[owner] = true;
                    self.push_ownership(
                        unit_id,
                        owners[owner],
                        bp,
                        (start, None),
                        k == 0,
                        imported,
                    );
                }
                // The owners before them, walking back from the sale.
                let mut sold = start;
                for _ in 0..past_count {
                    let held = Days::new(self.rng.random_range(730..=7300));
                    let bought = sold - held;
                    let previous = self.previous_owner(&owns, &shares);
                    owns[previous] = true;
                    self.push_ownership(
                        unit_id,
                        owners[previous],
                        10_000,
                        (bought, Some(sold)),
                        true,
                        imported,
                    );
                    sold = bought;
                }
            }
        }
    }

    /// Someone who owned nothing yet if there is one, else anyone but the current owners.
    fn previous_owner(&mut self, owns: &[bool], current: &[(usize, i32)]) -> usize {
        if let Some(idle) = owns.iter().position(|o| !o) {
            return idle;
        }
        loop {
            let candidate = self.rng.random_range(0..owns.len());
            if current.iter().all(|&(o, _)| o != candidate) {
                return candidate;
            }
        }
    }

    fn push_ownership(
        &mut self,
        unit_id: Uuid,
        owner_id: Uuid,
        share_bp: i32,
        (start, end): (NaiveDate, Option<NaiveDate>),
        primary: bool,
        imported: DateTime<Utc>,
    ) {
        // Recorded at import, or on the deed's day when that came later; a closed
        // ownership was last touched when it ended.
        let created = imported.max(at(start, 10, 0));
        let updated = end.map_or(created, |end| created.max(at(end, 10, 0)));
        let uo = &mut self.batch.unit_owners;
        uo.id.push(new_id(&mut self.rng));
        uo.unit_id.push(unit_id);
        uo.owner_id.push(owner_id);
        uo.share_bp.push(share_bp);
        uo.start_date.push(start);
        uo.end_date.push(end);
        uo.is_primary_contact.push(primary);
        uo.created_at.push(created);
        uo.updated_at.push(updated);
    }

    fn accounts(&mut self, org_id: Uuid, onboarded: DateTime<Utc>) {
        let created_at = onboarded + Duration::hours(1);
        for account in ACCOUNTS {
            let a = &mut self.batch.accounts;
            a.id.push(new_id(&mut self.rng));
            a.code.push(account.code);
            a.label.push(account.label);
            a.parent_code.push(account.parent);
            a.account_type.push(account.account_type.as_str());
            a.direct_use.push(account.direct_use);
            a.organization_id.push(org_id);
            a.created_at.push(created_at);
        }
    }

    fn expenses(&mut self, org_id: Uuid, building: &BuildingInfo, onboarded: DateTime<Utc>) {
        let today = base_date();
        for _ in 0..EXPENSES_PER_BUILDING {
            let kind: &ExpenseKind = pick_weighted(&mut self.rng, EXPENSE_KINDS, |k| k.weight);
            let supplier = *pick(&mut self.rng, kind.suppliers);
            let (status, max_age) = match self.rng.random_range(0..100) {
                0..40 => ("approved", 1000),
                40..65 => ("pending_approval", 120),
                65..85 => ("draft", 60),
                _ => ("rejected", 1000),
            };
            let date = today - Days::new(self.rng.random_range(1..=max_age));
            let payment_status = match status {
                "approved" => match self.rng.random_range(0..100) {
                    0..60 => "paid",
                    60..85 => "pending",
                    _ => "overdue",
                },
                "rejected" => "cancelled",
                "pending_approval" if self.rng.random_bool(0.1) => "overdue",
                _ => "pending",
            };
            // Skewed towards the low end of the kind's range, as invoices are.
            let (lo, hi) = kind.cents;
            let u: f64 = self.rng.random();
            let cents = lo + ((hi - lo) as f64 * u * u).round() as i64;
            let description = format!(
                "{} - {}",
                pick(&mut self.rng, kind.descriptions),
                period(date)
            );
            let invoice_number = if status == "draft" && self.rng.random_bool(0.15) {
                None
            } else {
                let prefix: String = names::email_part(supplier)
                    .chars()
                    .filter(char::is_ascii_alphabetic)
                    .take(3)
                    .collect::<String>()
                    .to_ascii_uppercase();
                Some(format!(
                    "{prefix}-{}-{:06}",
                    date.year(),
                    self.rng.random_range(1..1_000_000)
                ))
            };
            let received = at(date, 7, 0) + Duration::minutes(self.rng.random_range(0..600));
            let created_at = received
                .max(onboarded + Duration::days(3))
                .max(building.created_at);
            let updated_at = if status == "draft" {
                created_at
            } else {
                (created_at + Duration::days(self.rng.random_range(1..=20))).min(base_time())
            }
            .max(created_at);
            let e = &mut self.batch.expenses;
            e.id.push(new_id(&mut self.rng));
            e.organization_id.push(org_id);
            e.building_id.push(building.id);
            e.category.push(kind.category);
            e.description.push(description);
            e.amount_cents.push(cents);
            e.expense_date.push(date);
            e.payment_status.push(payment_status);
            e.approval_status.push(status);
            e.supplier.push(supplier);
            e.invoice_number.push(invoice_number);
            e.account_code.push(kind.account_code);
            e.created_at.push(created_at);
            e.updated_at.push(updated_at);
        }
    }

    /// Last year's and this year's general assemblies, in the building's statutory
    /// month, and sometimes an extraordinary one.
    fn meetings(&mut self, org_id: Uuid, org_name: &str, building: &BuildingInfo) {
        const TOPICS: &[&str] = &[
            "rénovation de la façade",
            "remplacement de l'ascenseur",
            "mise en conformité électrique",
            "isolation de la toiture",
            "installation de bornes de recharge",
            "remplacement de la chaudière collective",
        ];
        let now = base_time();
        let month = *pick(&mut self.rng, &[3u32, 4, 5, 6, 9, 10, 11]);
        let day = self.rng.random_range(1..=28);
        let hour = self.rng.random_range(17..=18);
        let mut dates = vec![
            ("ordinary", at(ymd(2024, month, day), hour, 0), None),
            ("ordinary", at(ymd(2025, month, day), hour, 0), None),
        ];
        if self.rng.random_bool(0.3) {
            let when = at(
                base_date() + Days::new(150) - Days::new(self.rng.random_range(0..=450)),
                hour,
                30,
            );
            dates.push(("extraordinary", when, Some(*pick(&mut self.rng, TOPICS))));
        }
        for (meeting_type, scheduled, topic) in dates {
            let title = match topic {
                None => format!("Assemblée générale ordinaire {}", scheduled.year()),
                Some(topic) => format!("Assemblée générale extraordinaire - {topic}"),
            };
            let status = if scheduled > now {
                if self.rng.random_bool(0.1) {
                    "cancelled"
                } else {
                    "scheduled"
                }
            } else if meeting_type == "extraordinary" && self.rng.random_bool(0.15) {
                "cancelled"
            } else {
                "completed"
            };
            let location = match self.rng.random_range(0..10) {
                0..5 => format!(
                    "Hall d'entrée, {}, {} {}",
                    building.address, building.city.postal_code, building.city.name
                ),
                5..8 => format!("Bureaux de {org_name}"),
                _ => format!("Salle polyvalente, {}", building.city.name),
            };
            // Convened three to eight weeks ahead (the law asks for fifteen days).
            let created_at = scheduled - Duration::days(self.rng.random_range(21..=56));
            let updated_at = match status {
                "completed" => (scheduled + Duration::days(self.rng.random_range(1..=5))).min(now),
                "cancelled" => {
                    (created_at + Duration::days(self.rng.random_range(1..=14))).min(now)
                }
                _ => created_at,
            }
            .max(created_at);
            let m = &mut self.batch.meetings;
            m.id.push(new_id(&mut self.rng));
            m.organization_id.push(org_id);
            m.building_id.push(building.id);
            m.meeting_type.push(meeting_type);
            m.title.push(title);
            m.scheduled_date.push(scheduled);
            m.location.push(location);
            m.status.push(status);
            m.created_at.push(created_at);
            m.updated_at.push(updated_at);
        }
    }
}

/// "mars 2025"-style period an invoice refers to.
fn period(date: NaiveDate) -> String {
    const MONTHS: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    format!("{} {}", MONTHS[date.month0() as usize], date.year())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn scale_one() -> Batch {
        SeedMaterial::new(1, 42).batch(0..3)
    }

    #[test]
    fn scale_one_is_koprogos_realistic_seed() {
        let b = scale_one();
        assert_eq!(b.organizations.id.len(), 3);
        assert_eq!(b.users.id.len(), 9);
        assert_eq!(b.buildings.id.len(), 23);
        assert_eq!(b.units.id.len(), 190);
        assert_eq!(b.owners.id.len(), 126);
        assert_eq!(b.expenses.id.len(), 23 * EXPENSES_PER_BUILDING);
        assert_eq!(b.accounts.id.len(), 3 * ACCOUNTS.len());
        assert!(b.unit_owners.id.len() > 190);
        assert!(b.meetings.id.len() >= 2 * 23);
        assert_eq!(b.organizations.slug, ["grandplace", "sablon", "meir"]);
        let per_org = |ids: &[Uuid]| {
            b.organizations
                .id
                .iter()
                .map(|o| ids.iter().filter(|i| *i == o).count())
                .collect::<Vec<_>>()
        };
        assert_eq!(per_org(&b.buildings.organization_id), [5, 8, 10]);
        assert_eq!(per_org(&b.units.organization_id), [30, 60, 100]);
        assert_eq!(per_org(&b.owners.organization_id), [20, 40, 66]);
    }

    #[test]
    fn the_same_seed_gives_the_same_rows_and_another_does_not() {
        assert_eq!(scale_one(), scale_one());
        let other = SeedMaterial::new(1, 43).batch(0..3);
        assert_ne!(other.expenses.id, scale_one().expenses.id);
        assert_ne!(
            other.expenses.amount_cents,
            scale_one().expenses.amount_cents
        );
        assert_eq!(
            SeedMaterial::new(1, 42).salts,
            SeedMaterial::new(1, 42).salts
        );
        assert_ne!(
            SeedMaterial::new(1, 42).salts[0],
            SeedMaterial::new(1, 42).salts[1]
        );
    }

    #[test]
    fn a_larger_scale_starts_with_the_smaller_one() {
        let plan = SeedMaterial::new(3, 42);
        assert_eq!(plan.organizations(), 9);
        assert_eq!(plan.batch(0..3), scale_one());
        let later = plan.batch(3..9);
        assert_eq!(later.organizations.slug[0], "grandplace-2");
        assert_eq!(later.organizations.name[5], "Meir Vastgoedbeheer 3");
        assert_eq!(later.buildings.id.len(), 46);
    }

    #[test]
    fn batches_do_not_change_the_rows() {
        let plan = SeedMaterial::new(2, 7);
        let whole = plan.batch(0..6);
        let (a, b) = (plan.batch(0..4), plan.batch(4..6));
        let mut ids = a.expenses.id.clone();
        ids.extend(&b.expenses.id);
        assert_eq!(ids, whole.expenses.id);
    }

    #[test]
    fn units_fit_their_building() {
        let b = SeedMaterial::new(2, 1).batch(0..6);
        for (i, building) in b.buildings.id.iter().enumerate() {
            let units: Vec<usize> = (0..b.units.id.len())
                .filter(|&u| b.units.building_id[u] == *building)
                .collect();
            assert_eq!(units.len(), b.buildings.total_units[i] as usize);
            assert!(units.len() >= 3);
            let numbers: HashSet<_> = units.iter().map(|&u| &b.units.unit_number[u]).collect();
            assert_eq!(numbers.len(), units.len(), "unit numbers repeat");
            let quota: f64 = units.iter().map(|&u| b.units.quota[u]).sum();
            assert_eq!(quota, 1000.0);
            assert!(units.iter().any(|&u| b.units.unit_type[u] == "apartment"));
            for &u in &units {
                assert!(b.units.quota[u] > 0.0 && b.units.quota[u] <= 10_000.0);
                assert!(b.units.surface_area[u] > 0.0);
            }
        }
        let types: HashSet<_> = b.units.unit_type.iter().collect();
        assert!(types.len() >= 4, "{types:?}");
    }

    #[test]
    fn every_unit_has_current_owners_within_one_share() {
        let b = SeedMaterial::new(2, 3).batch(0..6);
        let uo = &b.unit_owners;
        let mut current: HashMap<Uuid, i32> = HashMap::new();
        let mut past = 0;
        for i in 0..uo.id.len() {
            assert!(uo.share_bp[i] > 0 && uo.share_bp[i] <= 10_000);
            assert!(uo.created_at[i] <= uo.updated_at[i]);
            match uo.end_date[i] {
                None => *current.entry(uo.unit_id[i]).or_default() += uo.share_bp[i],
                Some(end) => {
                    assert!(end >= uo.start_date[i]);
                    past += 1;
                }
            }
        }
        assert_eq!(current.len(), b.units.id.len());
        assert!(current.values().all(|&s| s == 10_000));
        assert!(past > b.units.id.len() / 5, "{past} past ownerships");
        let owning: HashSet<_> = uo.owner_id.iter().collect();
        assert!(
            owning.len() * 10 >= b.owners.id.len() * 9,
            "most owners own something"
        );
        // The owner demo user is an owner of some unit.
        for (i, user) in b.owners.user_id.iter().enumerate() {
            if user.is_some() {
                assert!(uo.owner_id.contains(&b.owners.id[i]));
            }
        }
    }

    #[test]
    fn expenses_look_like_a_syndics_invoices() {
        let b = SeedMaterial::new(4, 42).batch(0..12);
        let e = &b.expenses;
        let n = e.id.len();
        let share = |status: &str| {
            e.approval_status.iter().filter(|s| **s == status).count() as f64 / n as f64
        };
        assert!(
            (0.36..0.44).contains(&share("approved")),
            "{}",
            share("approved")
        );
        for status in ["draft", "pending_approval", "rejected"] {
            assert!(share(status) > 0.1, "{status}");
        }
        let payments: HashSet<_> = e.payment_status.iter().collect();
        assert_eq!(payments.len(), 4);
        let categories: HashSet<_> = e.category.iter().collect();
        assert_eq!(categories.len(), 8);
        for i in 0..n {
            assert!((5_000..=1_500_000).contains(&e.amount_cents[i]));
            assert!(e.account_code[i].starts_with('6') && e.account_code[i].len() == 6);
            assert!(e.expense_date[i] < base_date());
            assert!(e.created_at[i] <= e.updated_at[i]);
            assert!(!e.description[i].is_empty() && !e.supplier[i].is_empty());
        }
        let suppliers: HashSet<_> = e.supplier.iter().collect();
        for s in [
            "Vivaqua",
            "Engie Electrabel",
            "Schindler",
            "ISS Facility Services",
            "AG Insurance",
        ] {
            assert!(suppliers.contains(&s), "{s}");
        }
        let per_building: HashMap<_, usize> =
            e.building_id.iter().fold(HashMap::new(), |mut m, b| {
                *m.entry(b).or_default() += 1;
                m
            });
        assert!(per_building.values().all(|&c| c == EXPENSES_PER_BUILDING));
    }

    #[test]
    fn users_are_unique_and_the_syndic_comes_first() {
        let b = SeedMaterial::new(3, 42).batch(0..9);
        let emails: HashSet<_> = b.users.email.iter().collect();
        assert_eq!(emails.len(), b.users.email.len());
        assert_eq!(b.users.email[0], "syndic@grandplace.be");
        assert_eq!(b.users.role[..3], ["syndic", "accountant", "owner"]);
        assert_eq!(b.users.password[0], "syndic123");
    }

    #[test]
    fn meetings_have_valid_enums_and_dates() {
        let b = scale_one();
        let m = &b.meetings;
        for i in 0..m.id.len() {
            assert!(["ordinary", "extraordinary"].contains(&m.meeting_type[i]));
            assert!(["scheduled", "completed", "cancelled"].contains(&m.status[i]));
            assert!(m.created_at[i] <= m.updated_at[i]);
            if m.status[i] == "completed" {
                assert!(m.scheduled_date[i] <= base_time());
            }
            if m.status[i] == "scheduled" {
                assert!(m.scheduled_date[i] > base_time());
            }
        }
    }

    #[test]
    fn apportion_sums_exactly_and_keeps_every_part() {
        assert_eq!(apportion(1000, &[1.0, 1.0, 1.0]), [334, 333, 333]);
        let parts = apportion(1000, &[150.0, 4.0, 4.0, 12.0, 90.5]);
        assert_eq!(parts.iter().sum::<u32>(), 1000);
        let tiny = apportion(10, &[1000.0, 1.0, 1.0]);
        assert_eq!(tiny.iter().sum::<u32>(), 10);
        assert!(tiny.iter().all(|&p| p >= 1));
    }

    #[test]
    fn organizations_are_named_by_round() {
        assert_eq!(organization(0).1, "grandplace");
        assert_eq!(organization(2).1, "meir");
        assert_eq!(organization(3).1, "grandplace-2");
        assert_eq!(organization(3).2, "Syndic Grand-Place 2");
        assert_eq!(organization(3).0.buildings, 5);
    }
}
