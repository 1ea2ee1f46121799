//! The Belgian flavour of the seed: cities and postal codes, streets, people's names,
//! residence names, and the suppliers a syndic pays, by expense category.

/// The language of a place's street and residence names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    Brussels,
    Wallonia,
    Flanders,
}

#[derive(Debug, Clone, Copy)]
pub struct City {
    pub name: &'static str,
    pub postal_code: &'static str,
    pub region: Region,
}

const fn city(name: &'static str, postal_code: &'static str, region: Region) -> City {
    City {
        name,
        postal_code,
        region,
    }
}

pub static CITIES: &[City] = &[
    city("Bruxelles", "1000", Region::Brussels),
    city("Laeken", "1020", Region::Brussels),
    city("Schaerbeek", "1030", Region::Brussels),
    city("Etterbeek", "1040", Region::Brussels),
    city("Ixelles", "1050", Region::Brussels),
    city("Saint-Gilles", "1060", Region::Brussels),
    city("Anderlecht", "1070", Region::Brussels),
    city("Molenbeek-Saint-Jean", "1080", Region::Brussels),
    city("Jette", "1090", Region::Brussels),
    city("Evere", "1140", Region::Brussels),
    city("Woluwe-Saint-Pierre", "1150", Region::Brussels),
    city("Auderghem", "1160", Region::Brussels),
    city("Watermael-Boitsfort", "1170", Region::Brussels),
    city("Uccle", "1180", Region::Brussels),
    city("Forest", "1190", Region::Brussels),
    city("Woluwe-Saint-Lambert", "1200", Region::Brussels),
    city("Wavre", "1300", Region::Wallonia),
    city("Ottignies-Louvain-la-Neuve", "1348", Region::Wallonia),
    city("Nivelles", "1400", Region::Wallonia),
    city("Waterloo", "1410", Region::Wallonia),
    city("Liège", "4000", Region::Wallonia),
    city("Huy", "4500", Region::Wallonia),
    city("Verviers", "4800", Region::Wallonia),
    city("Namur", "5000", Region::Wallonia),
    city("Charleroi", "6000", Region::Wallonia),
    city("Arlon", "6700", Region::Wallonia),
    city("Mons", "7000", Region::Wallonia),
    city("Tournai", "7500", Region::Wallonia),
    city("Antwerpen", "2000", Region::Flanders),
    city("Berchem", "2600", Region::Flanders),
    city("Mechelen", "2800", Region::Flanders),
    city("Leuven", "3000", Region::Flanders),
    city("Hasselt", "3500", Region::Flanders),
    city("Genk", "3600", Region::Flanders),
    city("Brugge", "8000", Region::Flanders),
    city("Oostende", "8400", Region::Flanders),
    city("Kortrijk", "8500", Region::Flanders),
    city("Gent", "9000", Region::Flanders),
    city("Sint-Niklaas", "9100", Region::Flanders),
    city("Aalst", "9300", Region::Flanders),
];

/// The cities of one region.
pub fn cities_in(region: Region) -> impl Iterator<Item = &'static City> {
    CITIES.iter().filter(move |c| c.region == region)
}

pub static FRENCH_STREETS: &[&str] = &[
    "Rue de la Loi",
    "Avenue Louise",
    "Rue Neuve",
    "Boulevard Anspach",
    "Rue du Midi",
    "Chaussée de Waterloo",
    "Avenue de Tervueren",
    "Rue Royale",
    "Rue de Namur",
    "Boulevard du Souverain",
    "Chaussée d'Ixelles",
    "Rue des Tanneurs",
    "Avenue Brugmann",
    "Rue Haute",
    "Rue de la Station",
    "Rue de l'Église",
    "Rue du Moulin",
    "Avenue des Combattants",
    "Rue de Bruxelles",
    "Boulevard d'Avroy",
    "Rue Léopold",
    "Rue des Carmes",
    "Quai de la Meuse",
    "Rue de Fer",
    "Avenue Albert Ier",
    "Place Saint-Lambert",
    "Rue du Pont",
    "Chaussée de Charleroi",
    "Rue Saint-Jean",
    "Avenue de la Reine",
];

pub static DUTCH_STREETS: &[&str] = &[
    "Meir",
    "Kerkstraat",
    "Stationsstraat",
    "Nieuwstraat",
    "Molenstraat",
    "Dorpsstraat",
    "Bondgenotenlaan",
    "Korenmarkt",
    "Veldstraat",
    "Frankrijklei",
    "Lange Leemstraat",
    "Turnhoutsebaan",
    "Naamsestraat",
    "Tiensestraat",
    "Vrijdagmarkt",
    "Groenplaats",
    "Koning Albertlaan",
    "Leopoldlaan",
    "Schoolstraat",
    "Grote Markt",
    "Kouter",
    "Lippenslaan",
    "Koningin Astridlaan",
    "Brusselsesteenweg",
    "Sint-Pietersnieuwstraat",
];

/// The streets of a region's language (Brussels names are given in French).
pub fn streets(region: Region) -> &'static [&'static str] {
    match region {
        Region::Flanders => DUTCH_STREETS,
        Region::Brussels | Region::Wallonia => FRENCH_STREETS,
    }
}

pub static FRENCH_RESIDENCES: &[&str] = &[
    "Résidence Les Tilleuls",
    "Résidence Le Parc",
    "Résidence Les Acacias",
    "Résidence Beau Site",
    "Résidence Le Belvédère",
    "Résidence Les Jardins",
    "Résidence Saint-Michel",
    "Résidence Bellevue",
    "Résidence Le Manoir",
    "Résidence Les Érables",
    "Résidence Louise",
    "Résidence Astrid",
    "Résidence Léopold",
    "Résidence Albert",
    "Résidence Flagey",
    "Résidence Les Hirondelles",
    "Résidence Le Cèdre",
    "Résidence Horizon",
    "Le Clos des Chênes",
    "Les Terrasses du Sablon",
];

pub static DUTCH_RESIDENCES: &[&str] = &[
    "Residentie Zonneschijn",
    "Residentie De Linde",
    "Residentie Het Park",
    "Residentie Ter Beke",
    "Residentie De Meir",
    "Residentie Scheldezicht",
    "Residentie Den Eik",
    "Residentie Kasteelhof",
    "Residentie De Wielewaal",
    "Residentie Sint-Jan",
    "Residentie Ter Heide",
    "Residentie Het Anker",
    "Residentie Leiezicht",
    "Residentie Rubens",
];

pub fn residences(region: Region) -> &'static [&'static str] {
    match region {
        Region::Flanders => DUTCH_RESIDENCES,
        Region::Brussels | Region::Wallonia => FRENCH_RESIDENCES,
    }
}

pub static FIRST_NAMES: &[&str] = &[
    "Jean",
    "Marie",
    "Pierre",
    "Sophie",
    "Michel",
    "Anne",
    "Luc",
    "Isabelle",
    "Philippe",
    "Nathalie",
    "François",
    "Catherine",
    "Olivier",
    "Valérie",
    "Thierry",
    "Christine",
    "Marc",
    "Véronique",
    "Benoît",
    "Hélène",
    "Julien",
    "Camille",
    "Nicolas",
    "Céline",
    "Thomas",
    "Chloé",
    "Maxime",
    "Léa",
    "Antoine",
    "Manon",
    "Jan",
    "Els",
    "Pieter",
    "An",
    "Koen",
    "Sofie",
    "Bart",
    "Katrien",
    "Wim",
    "Lies",
    "Geert",
    "Inge",
    "Tom",
    "Hilde",
    "Dirk",
    "Griet",
    "Stijn",
    "Lotte",
    "Jef",
    "Nele",
    "Arne",
    "Elke",
    "Wouter",
    "Leen",
    "Mohamed",
    "Fatima",
    "Youssef",
    "Samira",
    "Ahmed",
    "Nadia",
];

pub static LAST_NAMES: &[&str] = &[
    "Peeters",
    "Janssens",
    "Maes",
    "Jacobs",
    "Mertens",
    "Willems",
    "Claes",
    "Goossens",
    "Wouters",
    "De Smet",
    "Dubois",
    "Lambert",
    "Dupont",
    "Martin",
    "Simon",
    "Laurent",
    "Leclercq",
    "Lejeune",
    "Renard",
    "Dumont",
    "Lefebvre",
    "Hermans",
    "Michiels",
    "Vermeulen",
    "Van den Broeck",
    "Aerts",
    "Pauwels",
    "Dierckx",
    "Cools",
    "Coppens",
    "Leroy",
    "Bertrand",
    "Denis",
    "Mathieu",
    "François",
    "Gérard",
    "Collard",
    "Noël",
    "Thiry",
    "Wauters",
    "Smets",
    "Hendrickx",
    "Van Damme",
    "De Backer",
    "Segers",
    "Vandenberghe",
    "Declercq",
    "Verstraete",
    "Fontaine",
    "Delvaux",
    "Lemaire",
    "Charlier",
    "Baert",
    "Van de Velde",
    "Desmet",
    "El Amrani",
    "Benali",
];

pub static EMAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "skynet.be",
    "telenet.be",
    "proximus.be",
    "hotmail.com",
    "outlook.be",
    "yahoo.fr",
    "scarlet.be",
];

/// Lower-case ASCII for an e-mail local part: accents folded, spaces and apostrophes
/// dropped ("Van den Broeck" → "vandenbroeck", "Noël" → "noel").
pub fn email_part(name: &str) -> String {
    name.chars()
        .filter_map(|c| {
            let folded = match c {
                'à' | 'â' | 'ä' | 'á' | 'À' | 'Â' | 'Ä' => 'a',
                'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
                'î' | 'ï' | 'í' | 'Î' | 'Ï' => 'i',
                'ô' | 'ö' | 'ó' | 'Ô' | 'Ö' => 'o',
                'ù' | 'û' | 'ü' | 'ú' | 'Ù' | 'Û' | 'Ü' => 'u',
                'ç' | 'Ç' => 'c',
                c if c.is_ascii_alphanumeric() => c.to_ascii_lowercase(),
                '-' => '-',
                _ => return None,
            };
            Some(folded)
        })
        .collect()
}

/// What a kind of invoice looks like: its category (the `expenses.category` CHECK
/// value), the PCMN account it is booked on, who sends it, what it says, and its range.
#[derive(Debug)]
pub struct ExpenseKind {
    pub category: &'static str,
    pub account_code: &'static str,
    pub suppliers: &'static [&'static str],
    pub descriptions: &'static [&'static str],
    /// Amount range in euro cents, inclusive.
    pub cents: (i64, i64),
    /// Relative frequency among a building's invoices.
    pub weight: u32,
}

pub static EXPENSE_KINDS: &[ExpenseKind] = &[
    ExpenseKind {
        category: "utilities",
        account_code: "604001",
        suppliers: &[
            "Engie Electrabel",
            "Luminus",
            "TotalEnergies Power & Gas Belgium",
            "Eneco Belgium",
            "Mega",
        ],
        descriptions: &[
            "Électricité des communs",
            "Facture de régularisation électricité",
            "Acompte électricité parties communes",
        ],
        cents: (9_000, 420_000),
        weight: 8,
    },
    ExpenseKind {
        category: "utilities",
        account_code: "604002",
        suppliers: &[
            "Engie Electrabel",
            "Luminus",
            "TotalEnergies Power & Gas Belgium",
        ],
        descriptions: &[
            "Gaz de chauffage collectif",
            "Acompte gaz chaufferie",
            "Régularisation annuelle gaz",
        ],
        cents: (45_000, 1_200_000),
        weight: 6,
    },
    ExpenseKind {
        category: "utilities",
        account_code: "604003",
        suppliers: &["Gabriëls", "Mazout Van Hoof", "Comfort Energy"],
        descriptions: &["Livraison de mazout", "Remplissage de la citerne à mazout"],
        cents: (120_000, 900_000),
        weight: 2,
    },
    ExpenseKind {
        category: "utilities",
        account_code: "612000",
        suppliers: &["Vivaqua", "SWDE", "De Watergroep", "Farys", "CILE", "inBW"],
        descriptions: &[
            "Consommation d'eau",
            "Relevé du compteur d'eau général",
            "Redevance assainissement",
        ],
        cents: (12_000, 380_000),
        weight: 6,
    },
    ExpenseKind {
        category: "maintenance",
        account_code: "611002",
        suppliers: &["Schindler", "Kone Belgium", "Otis", "TK Elevator"],
        descriptions: &[
            "Contrat d'entretien ascenseur",
            "Dépannage ascenseur",
            "Contrôle semestriel ascenseur (SECT)",
        ],
        cents: (18_000, 350_000),
        weight: 6,
    },
    ExpenseKind {
        category: "maintenance",
        account_code: "611001",
        suppliers: &[
            "Vaillant Service",
            "Viessmann Belgium",
            "ENGIE Home Services",
            "Thermo Confort SRL",
        ],
        descriptions: &[
            "Entretien annuel de la chaudière",
            "Ramonage et contrôle de combustion",
            "Réglage de la régulation du chauffage",
        ],
        cents: (15_000, 240_000),
        weight: 5,
    },
    ExpenseKind {
        category: "maintenance",
        account_code: "611003",
        suppliers: &["Sicli", "Ansul", "Chubb Fire & Security"],
        descriptions: &[
            "Contrôle annuel des extincteurs",
            "Entretien de la détection incendie",
            "Remplacement de dévidoirs",
        ],
        cents: (9_000, 160_000),
        weight: 3,
    },
    ExpenseKind {
        category: "maintenance",
        account_code: "610001",
        suppliers: &[
            "Multiservices Dubois",
            "Home Care Peeters",
            "Entretien Lambert SRL",
        ],
        descriptions: &[
            "Entretien des parties communes",
            "Remplacement d'ampoules et de minuteries",
            "Petits travaux d'entretien",
        ],
        cents: (6_000, 180_000),
        weight: 5,
    },
    ExpenseKind {
        category: "maintenance",
        account_code: "610004",
        suppliers: &[
            "Jardins de Wallonie",
            "Tuinen Van Damme",
            "Green Services SRL",
        ],
        descriptions: &[
            "Entretien des espaces verts",
            "Taille des haies",
            "Élagage des arbres",
        ],
        cents: (8_000, 250_000),
        weight: 2,
    },
    ExpenseKind {
        category: "repairs",
        account_code: "610002",
        suppliers: &[
            "Plomberie Janssens",
            "Sanitaire Willems",
            "Loodgieterij Maes",
        ],
        descriptions: &[
            "Réparation d'une fuite en cave",
            "Remplacement d'une colonne d'eau",
            "Débouchage des égouts",
        ],
        cents: (7_500, 450_000),
        weight: 2,
    },
    ExpenseKind {
        category: "repairs",
        account_code: "610002",
        suppliers: &[
            "Électricité Dupont SRL",
            "Elektro Peeters",
            "Techniques Lambert",
        ],
        descriptions: &[
            "Réparation de l'éclairage du hall",
            "Remplacement du tableau électrique des communs",
            "Remplacement des minuteries",
        ],
        cents: (7_500, 380_000),
        weight: 2,
    },
    ExpenseKind {
        category: "repairs",
        account_code: "610002",
        suppliers: &[
            "Serrurerie Wouters",
            "Vitrerie Lejeune",
            "Menuiserie Collard",
        ],
        descriptions: &[
            "Remplacement de la serrure de la porte d'entrée",
            "Remplacement d'un vitrage",
            "Réparation de la porte du hall",
        ],
        cents: (7_500, 250_000),
        weight: 1,
    },
    ExpenseKind {
        category: "repairs",
        account_code: "610002",
        suppliers: &["Toitures Renard", "Dakwerken Claes"],
        descriptions: &[
            "Réparation de la toiture",
            "Remplacement de gouttières",
            "Réparation d'une infiltration",
        ],
        cents: (25_000, 600_000),
        weight: 1,
    },
    ExpenseKind {
        category: "repairs",
        account_code: "611004",
        suppliers: &["Hörmann Belgium", "Portes Service Claes", "Urmet Belgium"],
        descriptions: &[
            "Réparation de la porte de garage",
            "Remplacement du parlophone",
            "Réglage du ferme-porte",
        ],
        cents: (9_000, 320_000),
        weight: 2,
    },
    ExpenseKind {
        category: "insurance",
        account_code: "614000",
        suppliers: &[
            "AG Insurance",
            "AXA Belgium",
            "Ethias",
            "P&V Assurances",
            "Baloise Belgium",
            "Federale Assurance",
        ],
        descriptions: &[
            "Prime annuelle assurance incendie",
            "Avenant assurance incendie",
        ],
        cents: (120_000, 950_000),
        weight: 3,
    },
    ExpenseKind {
        category: "insurance",
        account_code: "614001",
        suppliers: &["AG Insurance", "AXA Belgium", "Ethias", "Allianz Benelux"],
        descriptions: &[
            "Prime assurance responsabilité civile",
            "Assurance RC du conseil de copropriété",
        ],
        cents: (25_000, 180_000),
        weight: 2,
    },
    ExpenseKind {
        category: "cleaning",
        account_code: "613000",
        suppliers: &[
            "ISS Facility Services",
            "Atalian",
            "Vebego",
            "Cleaning Masters",
            "Net Service SRL",
        ],
        descriptions: &[
            "Nettoyage mensuel des communs",
            "Nettoyage des vitres",
            "Nettoyage après travaux",
        ],
        cents: (20_000, 250_000),
        weight: 6,
    },
    ExpenseKind {
        category: "cleaning",
        account_code: "613001",
        suppliers: &["Bruxelles-Propreté", "Renewi", "Intradel", "Suez"],
        descriptions: &[
            "Location et vidange des conteneurs",
            "Enlèvement des encombrants",
        ],
        cents: (6_000, 120_000),
        weight: 3,
    },
    ExpenseKind {
        category: "administration",
        account_code: "615000",
        suppliers: &["Bureau du syndic"],
        descriptions: &[
            "Honoraires de gestion trimestriels",
            "Honoraires de tenue de l'assemblée générale",
        ],
        cents: (40_000, 450_000),
        weight: 4,
    },
    ExpenseKind {
        category: "administration",
        account_code: "616000",
        suppliers: &["bpost", "Proximus"],
        descriptions: &[
            "Envoi des convocations recommandées",
            "Abonnement ligne ascenseur",
        ],
        cents: (5_000, 60_000),
        weight: 3,
    },
    ExpenseKind {
        category: "administration",
        account_code: "657000",
        suppliers: &["Belfius", "BNP Paribas Fortis", "ING Belgique", "KBC"],
        descriptions: &["Frais de tenue de compte", "Frais bancaires trimestriels"],
        cents: (5_000, 25_000),
        weight: 2,
    },
    ExpenseKind {
        category: "administration",
        account_code: "615001",
        suppliers: &["Fiduciaire Mertens", "Vandenberghe & Co Réviseurs"],
        descriptions: &["Vérification des comptes annuels"],
        cents: (25_000, 150_000),
        weight: 1,
    },
    ExpenseKind {
        category: "works",
        account_code: "660000",
        suppliers: &[
            "Thomas & Piron",
            "Renotec",
            "CFE",
            "Valens",
            "Dherte",
            "Bouwbedrijf Segers",
        ],
        descriptions: &[
            "Rénovation de la façade",
            "Remplacement de la toiture plate",
            "Mise en conformité de l'ascenseur",
            "Remplacement des châssis des communs",
            "Rénovation de la chaufferie",
        ],
        cents: (250_000, 1_500_000),
        weight: 3,
    },
    ExpenseKind {
        category: "works",
        account_code: "615003",
        suppliers: &["Bureau d'architecture Delvaux", "Architectenbureau Baert"],
        descriptions: &[
            "Honoraires d'architecte - étude de rénovation",
            "Suivi de chantier",
        ],
        cents: (150_000, 800_000),
        weight: 1,
    },
    ExpenseKind {
        category: "other",
        account_code: "617000",
        suppliers: &["Securitas", "G4S Secure Solutions"],
        descriptions: &["Rondes de surveillance", "Télésurveillance du parking"],
        cents: (15_000, 220_000),
        weight: 2,
    },
    ExpenseKind {
        category: "other",
        account_code: "616002",
        suppliers: &[
            "Salle Saint-Boniface",
            "Centre culturel",
            "Bureau du syndic",
        ],
        descriptions: &[
            "Location de salle pour l'assemblée générale",
            "Frais d'organisation de l'assemblée",
        ],
        cents: (5_000, 40_000),
        weight: 1,
    },
    ExpenseKind {
        category: "other",
        account_code: "640000",
        suppliers: &["SPF Finances", "Administration communale"],
        descriptions: &["Taxe sur les parties communes", "Redevance communale"],
        cents: (5_000, 300_000),
        weight: 1,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::pcmn::ACCOUNTS;

    #[test]
    fn every_region_has_cities() {
        for region in [Region::Brussels, Region::Wallonia, Region::Flanders] {
            assert!(cities_in(region).count() >= 5);
        }
    }

    #[test]
    fn email_parts_are_ascii() {
        assert_eq!(email_part("Van den Broeck"), "vandenbroeck");
        assert_eq!(email_part("Noël"), "noel");
        assert_eq!(email_part("François"), "francois");
        for name in FIRST_NAMES.iter().chain(LAST_NAMES) {
            let part = email_part(name);
            assert!(!part.is_empty() && part.is_ascii(), "{name}");
        }
    }

    #[test]
    fn expense_kinds_book_on_bookable_accounts_and_stay_in_range() {
        const CATEGORIES: &[&str] = &[
            "maintenance",
            "repairs",
            "insurance",
            "utilities",
            "cleaning",
            "administration",
            "works",
            "other",
        ];
        for category in CATEGORIES {
            assert!(
                EXPENSE_KINDS.iter().any(|k| k.category == *category),
                "{category}"
            );
        }
        for kind in EXPENSE_KINDS {
            assert!(CATEGORIES.contains(&kind.category));
            let account = ACCOUNTS.iter().find(|a| a.code == kind.account_code);
            assert!(
                account.is_some_and(|a| a.direct_use && a.code.starts_with('6')),
                "{}",
                kind.account_code
            );
            assert!(
                5_000 <= kind.cents.0 && kind.cents.0 < kind.cents.1 && kind.cents.1 <= 1_500_000
            );
            assert!(!kind.suppliers.is_empty() && !kind.descriptions.is_empty() && kind.weight > 0);
        }
    }
}
