//! The `account_cache` switch: each organization's PCMN accounts held in memory,
//! loaded on first use and dropped when that organization's accounts change.
//!
//! Readers never block each other, nor wait for a writer: the map lives behind an
//! [`ArcSwap`], so a lookup is an atomic load and an `Arc` clone. Loads and
//! invalidations swap in a new map (read-copy-update); they are rare (once per
//! organization, and on account writes), and the map holds one entry per organization.
//!
//! A load that raced with an invalidation must not put the old accounts back: each
//! organization has a generation, bumped by [`AccountCache::invalidate`], and
//! [`AccountCache::store`] keeps a load only if the generation it started from is
//! still the current one. Writers invalidate after their commit, so a load that
//! started from the current generation read the committed rows.
//!
//! The cache is per process: several server processes over one database would each
//! need to hear of the others' writes, which this bench server does not need.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use uuid::Uuid;

use super::http_cache::JsonBody;
use super::routes::accounts::Account;

/// One organization's accounts, as the database had them at the load.
#[derive(Debug)]
pub struct Accounts {
    /// Ordered by code, as the database sorted them.
    pub list: Vec<Account>,
    /// `list` serialized once, with its entity tag: the hot path copies no JSON.
    pub body: JsonBody,
    /// Index of each code in `list`.
    by_code: HashMap<String, usize>,
}

impl Accounts {
    /// Wraps freshly read accounts; serializes them once.
    pub fn new(list: Vec<Account>) -> Result<Self, super::ApiError> {
        let body = JsonBody::tagged(&list)?;
        let by_code = list
            .iter()
            .enumerate()
            .map(|(i, a)| (a.code.clone(), i))
            .collect();
        Ok(Self {
            list,
            body,
            by_code,
        })
    }

    /// The account with this code.
    pub fn by_code(&self, code: &str) -> Option<&Account> {
        self.by_code.get(code).map(|&i| &self.list[i])
    }
}

#[derive(Clone, Debug, Default)]
struct Slot {
    generation: u64,
    accounts: Option<Arc<Accounts>>,
}

/// What [`AccountCache::lookup`] found.
pub enum Lookup {
    /// The organization's accounts.
    Hit(Arc<Accounts>),
    /// Not loaded (or invalidated): load them, then [`AccountCache::store`] them with
    /// this generation.
    Miss { generation: u64 },
}

/// Every organization's cached accounts.
#[derive(Default)]
pub struct AccountCache {
    orgs: ArcSwap<HashMap<Uuid, Slot>>,
}

impl AccountCache {
    /// The organization's accounts, if loaded and still current.
    pub fn lookup(&self, org: Uuid) -> Lookup {
        let orgs = self.orgs.load();
        match orgs.get(&org) {
            Some(Slot {
                accounts: Some(accounts),
                ..
            }) => Lookup::Hit(Arc::clone(accounts)),
            Some(slot) => Lookup::Miss {
                generation: slot.generation,
            },
            None => Lookup::Miss { generation: 0 },
        }
    }

    /// Keeps `accounts`, loaded after a [`Lookup::Miss`] of `generation`, unless the
    /// organization's accounts were invalidated since.
    pub fn store(&self, org: Uuid, generation: u64, accounts: Arc<Accounts>) {
        self.orgs.rcu(|orgs| {
            let current = orgs.get(&org).map_or(0, |slot| slot.generation);
            if current != generation {
                return Arc::clone(orgs);
            }
            let mut next = HashMap::clone(orgs);
            next.insert(
                org,
                Slot {
                    generation,
                    accounts: Some(Arc::clone(&accounts)),
                },
            );
            Arc::new(next)
        });
    }

    /// Drops the organization's accounts; a load already under way is not kept.
    pub fn invalidate(&self, org: Uuid) {
        self.orgs.rcu(|orgs| {
            let mut next = HashMap::clone(orgs);
            let slot = next.entry(org).or_default();
            slot.generation += 1;
            slot.accounts = None;
            Arc::new(next)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(org: Uuid, code: &str) -> Account {
        Account {
            id: Uuid::new_v4(),
            code: code.to_string(),
            label: format!("label {code}"),
            parent_code: None,
            account_type: "ASSET".to_string(),
            direct_use: true,
            organization_id: org,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    fn accounts(org: Uuid, codes: &[&str]) -> Arc<Accounts> {
        Arc::new(Accounts::new(codes.iter().map(|c| account(org, c)).collect()).unwrap())
    }

    fn generation(lookup: Lookup) -> u64 {
        match lookup {
            Lookup::Miss { generation } => generation,
            Lookup::Hit(_) => panic!("expected a miss"),
        }
    }

    #[test]
    fn loads_are_per_organization_and_invalidation_drops_them() {
        let cache = AccountCache::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let g = generation(cache.lookup(a));
        cache.store(a, g, accounts(a, &["55", "61"]));
        let Lookup::Hit(hit) = cache.lookup(a) else {
            panic!("a is loaded")
        };
        assert_eq!(hit.by_code("61").unwrap().code, "61");
        assert!(hit.by_code("70").is_none());
        // b is its own entry.
        assert_eq!(generation(cache.lookup(b)), 0);
        cache.invalidate(a);
        assert_eq!(generation(cache.lookup(a)), 1);
        // The Arc a reader holds stays valid.
        assert_eq!(hit.list.len(), 2);
    }

    #[test]
    fn a_load_that_raced_an_invalidation_is_not_kept() {
        let cache = AccountCache::default();
        let org = Uuid::new_v4();
        let started = generation(cache.lookup(org));
        // A write commits and invalidates while the load's query runs.
        cache.invalidate(org);
        cache.store(org, started, accounts(org, &["old"]));
        let now = generation(cache.lookup(org));
        assert_eq!(now, started + 1);
        cache.store(org, now, accounts(org, &["new"]));
        let Lookup::Hit(hit) = cache.lookup(org) else {
            panic!("the current load is kept")
        };
        assert_eq!(hit.list[0].code, "new");
    }
}
