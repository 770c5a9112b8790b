//! A schema shaped like Chinook, the public sample music store: quoted
//! mixed-case names, a lookup table (`Genre`), numeric money (`UnitPrice`),
//! a composite-key link table (`PlaylistTrack`), customers with an address
//! in several columns (`City`, `State`, `PostalCode`) and phones from many
//! countries. Built by code on any store.

use crate::Kind;

/// The tables, quoted for `kind`.
pub fn schema(kind: Kind) -> Vec<String> {
    let q = |ident: &str| kind.quote(ident);
    vec![
        format!("CREATE TABLE {} ({} INTEGER PRIMARY KEY, {} VARCHAR(120))", q("Genre"), q("GenreId"), q("Name")),
        format!(
            "CREATE TABLE {} ({} INTEGER PRIMARY KEY, {} VARCHAR(200) NOT NULL, {} INTEGER REFERENCES {}({}), \
             {} NUMERIC(10,2) NOT NULL, {} VARCHAR(220))",
            q("Track"),
            q("TrackId"),
            q("Name"),
            q("GenreId"),
            q("Genre"),
            q("GenreId"),
            q("UnitPrice"),
            q("Composer")
        ),
        format!("CREATE TABLE {} ({} INTEGER PRIMARY KEY, {} VARCHAR(120))", q("Playlist"), q("PlaylistId"), q("Name")),
        format!(
            "CREATE TABLE {} ({} INTEGER NOT NULL, {} INTEGER NOT NULL, {} INTEGER, PRIMARY KEY ({}, {}))",
            q("PlaylistTrack"),
            q("PlaylistId"),
            q("TrackId"),
            q("Position"),
            q("PlaylistId"),
            q("TrackId")
        ),
        format!(
            "CREATE TABLE {} ({} INTEGER PRIMARY KEY, {} VARCHAR(40) NOT NULL, {} VARCHAR(60), {} VARCHAR(24), \
             {} VARCHAR(70), {} VARCHAR(40), {} VARCHAR(40), {} VARCHAR(10), {} VARCHAR(40))",
            q("Customer"),
            q("CustomerId"),
            q("FirstName"),
            q("Email"),
            q("Phone"),
            q("Address"),
            q("City"),
            q("State"),
            q("PostalCode"),
            q("Country")
        ),
    ]
}

/// Genres 1–25, tracks 1–60 at 0.99 (genre `1 + id % 25`), playlists 1–3
/// with tracks 1–20 each, and six customers.
pub fn rows(kind: Kind) -> Vec<String> {
    let q = |ident: &str| kind.quote(ident);
    let genres: Vec<String> = (1..=25).map(|i| format!("({i}, 'Genre {i}')")).collect();
    let tracks: Vec<String> = (1..=60).map(|i| format!("({i}, 'Track {i}', {}, 0.99, NULL)", 1 + i % 25)).collect();
    let links: Vec<String> = (1..=3).flat_map(|p| (1..=20).map(move |t| format!("({p}, {t}, {t})"))).collect();
    vec![
        format!("INSERT INTO {} ({}, {}) VALUES {}", q("Genre"), q("GenreId"), q("Name"), genres.join(", ")),
        format!(
            "INSERT INTO {} ({}, {}, {}, {}, {}) VALUES {}",
            q("Track"),
            q("TrackId"),
            q("Name"),
            q("GenreId"),
            q("UnitPrice"),
            q("Composer"),
            tracks.join(", ")
        ),
        format!(
            "INSERT INTO {} ({}, {}) VALUES (1, 'Music'), (2, 'Movies'), (3, 'Classical')",
            q("Playlist"),
            q("PlaylistId"),
            q("Name")
        ),
        format!(
            "INSERT INTO {} ({}, {}, {}) VALUES {}",
            q("PlaylistTrack"),
            q("PlaylistId"),
            q("TrackId"),
            q("Position"),
            links.join(", ")
        ),
        format!(
            "INSERT INTO {} ({}, {}, {}, {}, {}, {}, {}, {}, {}) VALUES \
             (1, 'Luís', 'luisg@embraer.com.br', '+55 (12) 3923-5555', 'Av. Brigadeiro Faria Lima, 2170', 'São José dos Campos', 'SP', '12227-000', 'Brazil'), \
             (2, 'Leonie', 'leonekohler@surfeu.de', '+49 0711 2842222', 'Theodor-Heuss-Straße 34', 'Stuttgart', NULL, '70174', 'Germany'), \
             (3, 'François', 'ftremblay@gmail.com', '+1 (514) 721-4711', '1498 rue Bélanger', 'Montréal', 'QC', 'H2G 1A7', 'Canada'), \
             (4, 'Michelle', 'michelleb@aol.com', '+1 (212) 221-3546', '627 Broadway', 'New York', 'NY', '10012-2612', 'USA'), \
             (5, 'Phil', 'phil.hughes@gmail.com', '+44 020 7976 5722', '113 Lupus St', 'London', NULL, 'SW1V 3EN', 'United Kingdom'), \
             (6, 'Tim', 'tgoyer@apple.com', '+1 (408) 996-1010', '1 Infinite Loop', 'Cupertino', 'CA', '95014', 'USA')",
            q("Customer"),
            q("CustomerId"),
            q("FirstName"),
            q("Email"),
            q("Phone"),
            q("Address"),
            q("City"),
            q("State"),
            q("PostalCode"),
            q("Country")
        ),
    ]
}

/// Every statement that builds the fixture, in order.
pub fn statements(kind: Kind) -> Vec<String> {
    let mut all = schema(kind);
    all.extend(rows(kind));
    all
}
