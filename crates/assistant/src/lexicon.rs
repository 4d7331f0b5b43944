//! The words the understanding knows: abbreviations, months, weekdays, numbers in letters, and the
//! classes of nouns that decide whether a number is a day, a head count or something else.
//!
//! Every lookup is a `match` on the folded word (compiled to length and byte comparisons), so a
//! message costs a handful of comparisons per word. Months and weekdays also forgive one typo
//! ("diciembe", "biernes") through a bounded edit distance tried only on long, unknown words.

/// WhatsApp abbreviations and spelling variants, replaced by the word they stand for.
pub(crate) fn canonical(w: &str) -> Option<&'static str> {
    Some(match w {
        "q" | "k" | "ke" | "qe" | "qu" => "que",
        "d" => "de",
        "x" => "por",
        "pa" | "xa" => "para",
        "xq" | "pq" | "xk" | "pk" | "porq" | "xque" => "porque",
        "ola" | "holis" | "hla" | "hol" | "hoal" | "holas" => "hola",
        "wenas" | "bunas" | "buens" => "buenas",
        "grax" | "grs" | "grcs" | "gcs" | "gracia" | "grasias" | "graciaas" => "gracias",
        "mnn" | "mnana" | "maniana" | "manna" | "manan" => "manana",
        "tmb" | "tb" | "tambn" => "tambien",
        "flia" => "familia",
        "sra" => "senora",
        "prox" | "proxi" => "proximo",
        "dpto" | "depa" | "departamento" | "dto" => "depto",
        "hab" | "habit" => "habitacion",
        "cnto" | "qnto" | "cuant" => "cuanto",
        "setiembre" => "septiembre",
        "hs" | "hrs" | "hr" | "h" | "horas" | "hora" => "hs",
        "nts" | "noch" | "nohces" | "nochs" | "noces" => "noches",
        "pers" | "psn" | "prs" => "personas",
        "porfa" | "porfis" | "xfa" | "xfavor" | "plis" | "pls" => "porfavor",
        "findee" | "fnde" | "fin-de" => "finde",
        "resrva" | "reseva" | "reserba" => "reserva",
        "resevar" | "reserbar" => "reservar",
        "disponibilida" | "disponivilidad" | "disponibiliad" => "disponibilidad",
        _ => return None,
    })
}

/// How sure a month word is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MonthWord {
    /// The full name or an unambiguous abbreviation ("diciembre", "dic", "dici").
    Sure(u8),
    /// A short form that is also another word ("mar", "set", "may", "ago"): a month only right
    /// after a day.
    Short(u8),
    /// One typo away from a month name ("diciembe"): a month only right after a day.
    Typo(u8),
}

impl MonthWord {
    pub(crate) fn month(self) -> u8 {
        match self {
            MonthWord::Sure(m) | MonthWord::Short(m) | MonthWord::Typo(m) => m,
        }
    }
}

const MONTHS: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

const WEEKDAYS: [&str; 7] = [
    "lunes",
    "martes",
    "miercoles",
    "jueves",
    "viernes",
    "sabado",
    "domingo",
];

/// Words close to a month or weekday name that are something else.
fn near_miss(w: &str) -> bool {
    matches!(
        w,
        "entero"
            | "entera"
            | "abrir"
            | "abren"
            | "abrio"
            | "mayor"
            | "junto"
            | "junta"
            | "julia"
            | "lunas"
            | "luces"
            | "domino"
            | "sabana"
            | "sabanas"
            | "vienes"
            | "viene"
            | "jueces"
            | "martin"
            | "marte"
            | "agosta"
            | "febril"
            | "octava"
    )
}

/// The month a word names.
pub(crate) fn month(w: &str) -> Option<MonthWord> {
    // Month names start with one of these letters (typos keep the first letter).
    if w.len() < 3
        || !matches!(
            w.as_bytes()[0],
            b'e' | b'f' | b'm' | b'a' | b'j' | b's' | b'o' | b'n' | b'd'
        )
    {
        return None;
    }
    let sure = |m| Some(MonthWord::Sure(m));
    let short = |m| Some(MonthWord::Short(m));
    match w {
        "enero" | "ene" | "enro" => sure(1),
        "febrero" | "feb" | "febr" | "febre" | "febrer" => sure(2),
        "marzo" | "mzo" | "marz" => sure(3),
        "mar" => short(3),
        "abril" | "abr" => sure(4),
        "mayo" => sure(5),
        "may" => short(5),
        "junio" | "jun" => sure(6),
        "julio" | "jul" => sure(7),
        "agosto" | "agos" | "agost" | "agto" => sure(8),
        "ago" => short(8),
        "septiembre" | "sep" | "sept" | "septiem" | "setiem" | "septbre" => sure(9),
        "set" => short(9),
        "octubre" | "oct" | "octu" | "octub" => sure(10),
        "noviembre" | "nov" | "novi" | "noviem" | "nov." | "novbre" => sure(11),
        "diciembre" | "dic" | "dici" | "dicie" | "diciem" | "dicbre" | "dicimbre" | "dicienbre" => {
            sure(12)
        }
        _ => fuzzy(w, &MONTHS).map(|i| MonthWord::Typo(i as u8 + 1)),
    }
}

/// The weekday a word names, Monday = 0.
pub(crate) fn weekday(w: &str) -> Option<u8> {
    if w.len() < 3
        || !matches!(
            w.as_bytes()[0],
            b'l' | b'm' | b'j' | b'v' | b'b' | b's' | b'd'
        )
    {
        return None;
    }
    Some(match w {
        "lunes" | "lun" => 0,
        "martes" => 1,
        "miercoles" | "mie" | "mier" | "mierc" | "miercole" | "mircoles" => 2,
        "jueves" | "jue" | "juev" | "jueve" => 3,
        "viernes" | "vie" | "vier" | "viern" | "biernes" | "vienres" => 4,
        "sabado" | "sab" | "sabdo" | "savado" | "sabad" | "sabados" => 5,
        "domingo" | "dom" | "domin" | "domingos" => 6,
        _ => return fuzzy(w, &WEEKDAYS).map(|i| i as u8),
    })
}

/// Numbers written in letters, 1 to 30 ("un"/"una" included: callers decide when an article counts).
pub(crate) fn number_word(w: &str) -> Option<u32> {
    if w.len() < 2
        || !matches!(
            w.as_bytes()[0],
            b'u' | b'd' | b't' | b'c' | b's' | b'o' | b'n' | b'q' | b'v'
        )
    {
        return None;
    }
    Some(match w {
        "un" | "uno" | "una" => 1,
        "dos" => 2,
        "tres" => 3,
        "cuatro" => 4,
        "cinco" => 5,
        "seis" => 6,
        "siete" => 7,
        "ocho" => 8,
        "nueve" => 9,
        "diez" => 10,
        "once" => 11,
        "doce" => 12,
        "trece" => 13,
        "catorce" => 14,
        "quince" => 15,
        "dieciseis" => 16,
        "diecisiete" => 17,
        "dieciocho" => 18,
        "diecinueve" => 19,
        "veinte" => 20,
        "veintiuno" | "veintiuna" | "veintiun" => 21,
        "veintidos" => 22,
        "veintitres" => 23,
        "veinticuatro" => 24,
        "veinticinco" => 25,
        "veintiseis" => 26,
        "veintisiete" => 27,
        "veintiocho" => 28,
        "veintinueve" => 29,
        "treinta" => 30,
        _ => return None,
    })
}

/// Ordinal suffixes glued to a day ("1ro", "2do", "1°").
pub(crate) fn is_ordinal_suffix(w: &str) -> bool {
    matches!(
        w,
        "ro" | "ero" | "er" | "o" | "do" | "to" | "vo" | "no" | "mo"
    )
}

/// Words after a number that make it something other than a day of the month.
pub(crate) fn is_non_day_unit(w: &str) -> bool {
    person_unit(w).is_some()
        || is_pet(w)
        || matches!(
            w,
            "noche"
                | "noches"
                | "dia"
                | "dias"
                | "semana"
                | "semanas"
                | "mes"
                | "meses"
                | "ano"
                | "anos"
                | "hs"
                | "min"
                | "minutos"
                | "km"
                | "kms"
                | "kilometros"
                | "metros"
                | "mts"
                | "cuadras"
                | "pesos"
                | "lucas"
                | "mil"
                | "palos"
                | "dolares"
                | "usd"
                | "euros"
                | "camas"
                | "cama"
                | "banos"
                | "bano"
                | "pisos"
                | "piso"
                | "plantas"
                | "habitaciones"
                | "habitacion"
                | "dormitorios"
                | "dormitorio"
                | "cuartos"
                | "ambientes"
                | "cabanas"
                | "cabana"
                | "casas"
                | "deptos"
                | "autos"
                | "auto"
                | "camionetas"
                | "motos"
                | "veces"
                | "estrellas"
                | "am"
                | "pm"
                | "o"
                | "familias"
                | "grupos"
                | "cuotas"
                | "porciento"
        )
}

/// Nouns counting people: how many people one of them is (a couple is two).
pub(crate) fn person_unit(w: &str) -> Option<u32> {
    Some(match w {
        "personas" | "persona" | "pax" | "adultos" | "adulto" | "adultas" | "mayores"
        | "grandes" | "ninos" | "nino" | "ninas" | "nina" | "nenes" | "nene" | "nenas" | "nena"
        | "chicos" | "chico" | "chicas" | "chica" | "menores" | "menor" | "bebes" | "bebe"
        | "beba" | "bebas" | "adolescentes" | "adolescente" | "amigos" | "amigo" | "amigas"
        | "amiga" | "huespedes" | "huesped" | "pasajeros" | "pasajero" | "hijos" | "hijo"
        | "hijas" | "hija" | "jubilados" | "integrantes" | "varones" | "mujeres" | "hombres"
        | "primos" | "sobrinos" | "nietos" | "chiquitos" | "chiquitas" | "peques" | "pibes"
        | "chicxs" | "viajeros" | "compañeros" | "companeros" | "companeras" | "hermanos"
        | "hermanas" | "bebitos" | "nenitos" | "criaturas" | "ninios" => 1,
        "parejas" | "pareja" | "matrimonios" | "matrimonio" => 2,
        _ => return None,
    })
}

/// Pets: never counted as guests.
pub(crate) fn is_pet(w: &str) -> bool {
    matches!(
        w,
        "perro"
            | "perros"
            | "perra"
            | "perras"
            | "perrito"
            | "perritos"
            | "perrita"
            | "perritas"
            | "gato"
            | "gatos"
            | "gata"
            | "gatito"
            | "gatita"
            | "mascota"
            | "mascotas"
            | "caniche"
            | "cachorro"
    )
}

/// One person named by relation to the writer ("mi señora", "su marido").
pub(crate) fn is_relation(w: &str) -> bool {
    matches!(
        w,
        "senora"
            | "esposa"
            | "esposo"
            | "marido"
            | "mujer"
            | "novia"
            | "novio"
            | "pareja"
            | "hermana"
            | "hermano"
            | "hija"
            | "hijo"
            | "hijita"
            | "hijito"
            | "mama"
            | "papa"
            | "madre"
            | "padre"
            | "vieja"
            | "viejo"
            | "suegra"
            | "suegro"
            | "amiga"
            | "amigo"
            | "nena"
            | "nene"
            | "bebe"
            | "beba"
            | "prima"
            | "primo"
            | "tia"
            | "tio"
            | "abuela"
            | "abuelo"
            | "companera"
            | "companero"
            | "cunada"
            | "cunado"
            | "sobrina"
            | "sobrino"
            | "nieta"
            | "nieto"
            | "flaca"
            | "flaco"
            | "jermu"
            | "senor"
            | "esposita"
            | "gorda"
            | "gordo"
    )
}

/// Several people named by relation with a known size ("mis viejos" are two).
pub(crate) fn relation_pair(w: &str) -> bool {
    matches!(w, "viejos" | "padres" | "suegros" | "papas" | "abuelos")
}

/// A unit noun: `Some(true)` when the noun alone names one unit ("el refugio", "la suite"),
/// `Some(false)` when it needs a description to name one ("la cabaña" is any cabin).
pub(crate) fn unit_noun(w: &str) -> Option<bool> {
    Some(match w {
        "refugio" | "suite" | "loft" | "domo" | "chalet" | "bungalow" | "duplex" | "tiny"
        | "glamping" | "mirador" | "quincho" => true,
        "cabana" | "cabanita" | "casa" | "casita" | "depto" | "habitacion" | "cuarto"
        | "monoambiente" | "unidad" | "apart" | "posada" | "hostel" | "cabin" => false,
        _ => return None,
    })
}

/// Adjectives that pick one unit out ("la cabaña grande", "la más chica").
pub(crate) fn is_unit_adjective(w: &str) -> bool {
    matches!(
        w,
        "grande"
            | "chica"
            | "chico"
            | "chiquita"
            | "chiquito"
            | "pequena"
            | "pequeno"
            | "mediana"
            | "mediano"
            | "nueva"
            | "nuevo"
            | "vieja"
            | "azul"
            | "roja"
            | "rojo"
            | "verde"
            | "blanca"
            | "blanco"
            | "amarilla"
            | "negra"
            | "principal"
            | "familiar"
            | "matrimonial"
            | "doble"
            | "triple"
            | "rustica"
            | "barata"
            | "barato"
            | "cara"
            | "linda"
            | "comoda"
            | "amplia"
            | "alpina"
            | "economica"
            | "superior"
            | "premium"
    )
}

/// Optimal string alignment distance, bounded: `None` once it exceeds `max`.
fn distance_within(a: &[u8], b: &[u8], max: usize) -> bool {
    if a.len().abs_diff(b.len()) > max || a.len() > 15 || b.len() > 15 {
        return false;
    }
    let mut prev2 = [0usize; 16];
    let mut prev = [0usize; 16];
    let mut cur = [0usize; 16];
    for (j, slot) in prev.iter_mut().enumerate().take(b.len() + 1) {
        *slot = j;
    }
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return false;
        }
        prev2 = prev;
        prev = cur;
    }
    prev[b.len()] <= max
}

/// The index of the name in `names` that `w` misspells, if it is close to exactly one.
fn fuzzy(w: &str, names: &[&str]) -> Option<usize> {
    let wb = w.as_bytes();
    if wb.len() < 5 || wb.len() > 12 || !wb.iter().all(u8::is_ascii_lowercase) || near_miss(w) {
        return None;
    }
    let first = wb[0];
    let mut found = None;
    for (i, name) in names.iter().enumerate() {
        let nb = name.as_bytes();
        // Typos keep the first two letters (but "b" for "v"): a cheap filter before the
        // distance.
        let same_start = (nb[0] == first || (nb[0] == b'v' && first == b'b')) && nb[1] == wb[1];
        if !same_start || nb.len() < 5 || wb.len().abs_diff(nb.len()) > 2 {
            continue;
        }
        let max = if wb.len() >= 8 && nb.len() >= 8 { 2 } else { 1 };
        if distance_within(wb, nb, max) {
            if found.is_some() {
                return None;
            }
            found = Some(i);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_forgive_one_typo() {
        assert_eq!(month("diciembe").map(MonthWord::month), Some(12));
        assert_eq!(month("dicienbre").map(MonthWord::month), Some(12));
        assert_eq!(month("febreo").map(MonthWord::month), Some(2));
        assert_eq!(month("octubr").map(MonthWord::month), Some(10));
        assert_eq!(month("agsoto").map(MonthWord::month), Some(8));
        assert_eq!(month("entero"), None);
        assert_eq!(month("mayor"), None);
        assert_eq!(month("abrir"), None);
    }

    #[test]
    fn weekdays_forgive_one_typo() {
        assert_eq!(weekday("biernes"), Some(4));
        assert_eq!(weekday("miercols"), Some(2));
        assert_eq!(weekday("juegos"), None);
        assert_eq!(weekday("vienes"), None);
    }

    #[test]
    fn bounded_distance() {
        assert!(distance_within(b"diciembre", b"diciembre", 0));
        assert!(distance_within(b"agsoto", b"agosto", 1));
        assert!(!distance_within(b"martes", b"marzo", 2));
    }
}
