//! The PCMN (plan comptable minimum normalisé), the Belgian minimum standard chart of
//! accounts, as a co-ownership association (ACP/VME) keeps it: the class headers of
//! the royal decree and the accounts a syndic actually books on, French labels.
//!
//! Codes are hierarchical through `parent`: a class ("6"), a group ("61"), often a
//! sub-group ("611") and the six-digit accounts that entries are booked on
//! ("611002"). Headers cannot be booked on directly (`direct_use` false).

/// `accounts.account_type`, stored in upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountType {
    Asset,
    Liability,
    Expense,
    Revenue,
    OffBalance,
}

impl AccountType {
    /// The value the `accounts.account_type` CHECK accepts.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asset => "ASSET",
            Self::Liability => "LIABILITY",
            Self::Expense => "EXPENSE",
            Self::Revenue => "REVENUE",
            Self::OffBalance => "OFF_BALANCE",
        }
    }
}

/// One account of the chart.
#[derive(Debug, Clone, Copy)]
pub struct Account {
    pub code: &'static str,
    pub label: &'static str,
    pub parent: Option<&'static str>,
    pub account_type: AccountType,
    /// False for class, group and sub-group headers.
    pub direct_use: bool,
}

const fn header(
    code: &'static str,
    label: &'static str,
    parent: Option<&'static str>,
    account_type: AccountType,
) -> Account {
    Account {
        code,
        label,
        parent,
        account_type,
        direct_use: false,
    }
}

const fn leaf(
    code: &'static str,
    label: &'static str,
    parent: &'static str,
    account_type: AccountType,
) -> Account {
    Account {
        code,
        label,
        parent: Some(parent),
        account_type,
        direct_use: true,
    }
}

use AccountType::{Asset as A, Expense as E, Liability as L, OffBalance as O, Revenue as R};

/// The chart every seeded organization gets, parents before their children.
pub static ACCOUNTS: &[Account] = &[
    // Classe 0 : droits et engagements hors bilan
    header("0", "Droits et engagements hors bilan", None, O),
    header("00", "Garanties constituées par des tiers", Some("0"), O),
    leaf(
        "000000",
        "Garanties bancaires reçues des entrepreneurs",
        "00",
        O,
    ),
    // Classe 1 : fonds propres, provisions et dettes à plus d'un an
    header(
        "1",
        "Fonds propres, provisions pour risques et charges et dettes à plus d'un an",
        None,
        L,
    ),
    header("10", "Capital", Some("1"), L),
    leaf("100000", "Capital souscrit", "10", L),
    header("13", "Réserves", Some("1"), L),
    leaf("130000", "Fonds de roulement", "13", L),
    leaf("131000", "Fonds de réserve ordinaire", "13", L),
    leaf("132000", "Fonds de réserve pour travaux", "13", L),
    header("14", "Résultat reporté", Some("1"), L),
    leaf("140000", "Résultat reporté", "14", L),
    header("16", "Provisions pour risques et charges", Some("1"), L),
    leaf(
        "160000",
        "Provisions pour grosses réparations et gros entretien",
        "16",
        L,
    ),
    header("17", "Dettes à plus d'un an", Some("1"), L),
    leaf(
        "173000",
        "Emprunts auprès d'établissements de crédit",
        "17",
        L,
    ),
    // Classe 2 : actifs immobilisés
    header(
        "2",
        "Frais d'établissement, actifs immobilisés et créances à plus d'un an",
        None,
        A,
    ),
    header("22", "Terrains et constructions", Some("2"), A),
    leaf("221000", "Constructions", "22", A),
    header("23", "Installations, machines et outillage", Some("2"), A),
    leaf(
        "230000",
        "Installations techniques (chaufferie, ascenseurs)",
        "23",
        A,
    ),
    // Classe 3 : stocks
    header("3", "Stocks et commandes en cours d'exécution", None, A),
    header("30", "Approvisionnements", Some("3"), A),
    leaf("300000", "Stock de mazout de chauffage", "30", A),
    // Classe 4 : créances et dettes à un an au plus
    header("4", "Créances et dettes à un an au plus", None, A),
    header("40", "Créances commerciales", Some("4"), A),
    header("400", "Copropriétaires", Some("40"), A),
    leaf(
        "400000",
        "Copropriétaires - appels de fonds de roulement",
        "400",
        A,
    ),
    leaf(
        "400100",
        "Copropriétaires - appels de fonds de réserve",
        "400",
        A,
    ),
    header("41", "Autres créances", Some("4"), A),
    leaf("411000", "TVA à récupérer", "41", A),
    leaf("416000", "Créances diverses", "41", A),
    header("44", "Dettes commerciales", Some("4"), L),
    leaf("440000", "Fournisseurs", "44", L),
    header(
        "45",
        "Dettes fiscales, salariales et sociales",
        Some("4"),
        L,
    ),
    leaf("451000", "TVA à payer", "45", L),
    leaf("455000", "Rémunérations à payer", "45", L),
    header("49", "Comptes de régularisation et d'attente", Some("4"), A),
    leaf("490000", "Charges à reporter", "49", A),
    leaf("492000", "Charges à imputer", "49", L),
    leaf("499000", "Comptes d'attente", "49", A),
    // Classe 5 : placements de trésorerie et valeurs disponibles
    header(
        "5",
        "Placements de trésorerie et valeurs disponibles",
        None,
        A,
    ),
    header("55", "Établissements de crédit", Some("5"), A),
    leaf("550000", "Banque - compte courant", "55", A),
    leaf("550100", "Banque - compte fonds de réserve", "55", A),
    header("57", "Caisses", Some("5"), A),
    leaf("570000", "Caisse espèces", "57", A),
    // Classe 6 : charges
    header("6", "Charges", None, E),
    header("60", "Approvisionnements et marchandises", Some("6"), E),
    header("604", "Achats de fournitures et d'énergie", Some("60"), E),
    leaf("604001", "Électricité des parties communes", "604", E),
    leaf("604002", "Gaz de chauffage", "604", E),
    leaf("604003", "Mazout de chauffage", "604", E),
    leaf("604004", "Fournitures et petit matériel", "604", E),
    header("61", "Services et biens divers", Some("6"), E),
    header("610", "Entretien et réparations", Some("61"), E),
    leaf("610001", "Frais d'entretien des parties communes", "610", E),
    leaf("610002", "Réparations des parties communes", "610", E),
    leaf("610004", "Entretien des abords et espaces verts", "610", E),
    header("611", "Contrats d'entretien des équipements", Some("61"), E),
    leaf(
        "611001",
        "Chauffage central - contrat d'entretien",
        "611",
        E,
    ),
    leaf("611002", "Ascenseur - contrat d'entretien", "611", E),
    leaf("611003", "Détection et protection incendie", "611", E),
    leaf("611004", "Portes de garage et parlophonie", "611", E),
    header("612", "Eau et relevés", Some("61"), E),
    leaf("612000", "Eau", "612", E),
    header("613", "Nettoyage et déchets", Some("61"), E),
    leaf("613000", "Nettoyage des parties communes", "613", E),
    leaf("613001", "Enlèvement des déchets et conteneurs", "613", E),
    header("614", "Assurances", Some("61"), E),
    leaf("614000", "Assurance incendie de l'immeuble", "614", E),
    leaf("614001", "Assurance responsabilité civile", "614", E),
    header("615", "Honoraires", Some("61"), E),
    leaf("615000", "Honoraires du syndic", "615", E),
    leaf("615001", "Honoraires du commissaire aux comptes", "615", E),
    leaf("615002", "Honoraires d'avocats et d'experts", "615", E),
    leaf("615003", "Honoraires d'architecte", "615", E),
    header("616", "Frais d'administration", Some("61"), E),
    leaf("616000", "Frais postaux et de télécommunication", "616", E),
    leaf("616002", "Frais d'assemblée générale", "616", E),
    header("617", "Surveillance et gardiennage", Some("61"), E),
    leaf("617000", "Gardiennage et surveillance", "617", E),
    header(
        "62",
        "Rémunérations, charges sociales et pensions",
        Some("6"),
        E,
    ),
    leaf("620000", "Rémunérations du concierge", "62", E),
    leaf(
        "621000",
        "Cotisations patronales de sécurité sociale",
        "62",
        E,
    ),
    header(
        "63",
        "Amortissements, réductions de valeur et provisions",
        Some("6"),
        E,
    ),
    leaf(
        "635000",
        "Dotations aux provisions pour grosses réparations",
        "63",
        E,
    ),
    header("64", "Autres charges d'exploitation", Some("6"), E),
    leaf("640000", "Précompte immobilier et taxes", "64", E),
    header("65", "Charges financières", Some("6"), E),
    leaf("650000", "Intérêts des emprunts", "65", E),
    leaf("657000", "Frais bancaires", "65", E),
    header("66", "Charges exceptionnelles", Some("6"), E),
    leaf("660000", "Travaux extraordinaires", "66", E),
    // Classe 7 : produits
    header("7", "Produits", None, R),
    header("70", "Appels de fonds", Some("7"), R),
    leaf("700000", "Appels de fonds - charges courantes", "70", R),
    leaf("701000", "Appels de fonds - fonds de réserve", "70", R),
    leaf(
        "702000",
        "Appels de fonds - travaux extraordinaires",
        "70",
        R,
    ),
    header("74", "Autres produits d'exploitation", Some("7"), R),
    leaf("740000", "Indemnités d'assurance", "74", R),
    header("75", "Produits financiers", Some("7"), R),
    leaf("750000", "Intérêts créditeurs", "75", R),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn about_a_hundred_accounts_with_unique_codes() {
        assert!((95..=110).contains(&ACCOUNTS.len()), "{}", ACCOUNTS.len());
        let codes: HashSet<_> = ACCOUNTS.iter().map(|a| a.code).collect();
        assert_eq!(codes.len(), ACCOUNTS.len(), "duplicate codes");
    }

    #[test]
    fn parents_exist_come_first_and_are_prefixes() {
        let mut seen: HashMap<&str, &Account> = HashMap::new();
        for account in ACCOUNTS {
            match account.parent {
                None => assert_eq!(account.code.len(), 1, "{} has no parent", account.code),
                Some(parent) => {
                    let p = seen.get(parent).unwrap_or_else(|| {
                        panic!("{}: parent {parent} missing or later", account.code)
                    });
                    assert!(
                        account.code.starts_with(parent),
                        "{} under {parent}",
                        account.code
                    );
                    assert!(!p.direct_use, "{parent} has children but is bookable");
                }
            }
            seen.insert(account.code, account);
        }
    }

    #[test]
    fn headers_are_not_bookable_and_leaves_are_six_digits() {
        let parents: HashSet<_> = ACCOUNTS.iter().filter_map(|a| a.parent).collect();
        for account in ACCOUNTS {
            assert!(account.code.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(
                account.direct_use,
                !parents.contains(account.code),
                "{}",
                account.code
            );
            if account.direct_use {
                assert_eq!(account.code.len(), 6, "{}", account.code);
            }
        }
    }

    #[test]
    fn types_follow_the_class() {
        for account in ACCOUNTS {
            let allowed: &[AccountType] = match &account.code[..1] {
                "0" => &[AccountType::OffBalance],
                "1" => &[AccountType::Liability],
                "2" | "3" | "5" => &[AccountType::Asset],
                "4" => &[AccountType::Asset, AccountType::Liability],
                "6" => &[AccountType::Expense],
                "7" => &[AccountType::Revenue],
                other => panic!("unexpected class {other}"),
            };
            assert!(allowed.contains(&account.account_type), "{}", account.code);
        }
    }

    #[test]
    fn the_codes_other_code_relies_on_exist() {
        for code in [
            "100000", "400000", "440000", "550000", "604001", "610001", "611002", "612000",
            "700000",
        ] {
            assert!(
                ACCOUNTS.iter().any(|a| a.code == code && a.direct_use),
                "{code}"
            );
        }
    }
}
