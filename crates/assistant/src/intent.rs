//! The guest's main purpose, by the priorities of `RULES.md`.
//!
//! Signals are collected in one pass (words and short word pairs), then decided in a fixed order:
//! a request for a person, a cancellation, a question about an existing reservation, a booking,
//! availability (which wins over a price asked in the same message), price, amenities and
//! practicalities, and only then thanks and greetings, which never override a request attached to
//! them. A message that only gives dates or guests ("del 15 al 20 para 4") is an availability
//! question. Off-topic questions ("cuánto está el dólar") are unknown even though they ask a price.

use crate::Intent;
use crate::lexicon;
use crate::text::{Kind, Text};

/// What the other readers found, which the intent depends on.
pub(crate) struct Found {
    pub dates: bool,
    pub nights: bool,
    pub guests: bool,
    pub unit: bool,
    /// Tokens of the unit phrase: its words ("la que tiene jacuzzi") are not questions.
    pub unit_span: Option<(usize, usize)>,
}

#[derive(Default)]
struct Signals {
    off_topic: bool,
    off_topic_weak: bool,
    human: bool,
    cancel: bool,
    status: bool,
    book: bool,
    book_weak: bool,
    availability: bool,
    availability_weak: bool,
    price: bool,
    included: bool,
    info: bool,
    info_weak: bool,
    pay_question: bool,
    goodbye: bool,
    thanks: bool,
    greeting: bool,
}

fn is_info_word(w: &str) -> bool {
    matches!(
        w,
        "admiten"
            | "admite"
            | "aceptan"
            | "acepta"
            | "aceptas"
            | "permiten"
            | "permite"
            | "bienvenidos"
            | "bienvenido"
            | "bienvenidas"
            | "pileta"
            | "piscina"
            | "wifi"
            | "internet"
            | "senal"
            | "foto"
            | "fotos"
            | "imagenes"
            | "video"
            | "videos"
            | "ubicacion"
            | "ubicados"
            | "ubicadas"
            | "ubicada"
            | "ubicado"
            | "direccion"
            | "maps"
            | "distancia"
            | "km"
            | "kms"
            | "lejos"
            | "centro"
            | "horario"
            | "horarios"
            | "tarjeta"
            | "tarjetas"
            | "transferencia"
            | "efectivo"
            | "mercadopago"
            | "mercado"
            | "cuotas"
            | "debito"
            | "credito"
            | "incluye"
            | "incluido"
            | "incluida"
            | "incluidos"
            | "incluyen"
            | "desayuno"
            | "ropa"
            | "sabanas"
            | "toallas"
            | "parrilla"
            | "asador"
            | "cochera"
            | "estacionamiento"
            | "garage"
            | "garaje"
            | "aire"
            | "calefaccion"
            | "estufa"
            | "hogar"
            | "lena"
            | "fogon"
            | "tv"
            | "television"
            | "cable"
            | "netflix"
            | "cocina"
            | "heladera"
            | "microondas"
            | "ducha"
            | "agua"
            | "hidro"
            | "hidromasaje"
            | "jacuzzi"
            | "vista"
            | "playa"
            | "juegos"
            | "nieve"
            | "frio"
            | "calor"
            | "llaves"
            | "friendly"
            | "amenities"
            | "servicios"
            | "limpieza"
            | "donde"
            | "quedan"
            | "pagar"
            | "pago"
            | "politica"
            | "politicas"
    )
}

/// Words that ask about the place only when nothing else is asked: "con mascota, del 18 al 21"
/// and "dos habitaciones para 4" are requests for dates, "se puede llevar perro?" is a question
/// about pets.
fn is_weak_info_word(w: &str) -> bool {
    lexicon::is_pet(w)
        || matches!(
            w,
            "pet" | "banos" | "bano" | "dormitorios" | "habitaciones" | "ambientes" | "camas"
        )
}

/// Rooms and bathrooms asked about ("tiene 2 baños?", "cuántas habitaciones"): a question about
/// the place.
fn asks_about_rooms(text: &Text<'_>, i: usize) -> bool {
    matches!(
        text.word(i),
        "banos" | "bano" | "dormitorios" | "habitaciones" | "ambientes" | "camas"
    ) && (i.saturating_sub(3)..i)
        .any(|k| text.is_any(k, &["tiene", "tienen", "cuantas", "cuantos"]))
}

fn is_availability_word(w: &str) -> bool {
    matches!(
        w,
        "libre"
            | "libres"
            | "disponible"
            | "disponibles"
            | "disponibilidad"
            | "lugar"
            | "lugares"
            | "cupo"
            | "cupos"
            | "vacante"
            | "vacantes"
            | "ocupado"
            | "ocupada"
            | "ocupadas"
            | "busco"
            | "buscamos"
            | "buscando"
    )
}

impl Signals {
    fn collect(text: &Text<'_>, found: &Found) -> Signals {
        let mut s = Signals::default();
        let in_unit = |i: usize| found.unit_span.is_some_and(|(a, b)| i >= a && i <= b);
        let n = text.len();
        // Where the last word saying how a reservation stands is, and whether "reserva" appears:
        // looked up once so the per-word checks stay constant time.
        let last_state_word = (0..n).rev().find(|&k| {
            text.is_any(
                k,
                &[
                    "estado",
                    "confirmada",
                    "confirmado",
                    "acredito",
                    "acreditado",
                    "pie",
                    "paga",
                    "pagada",
                ],
            )
        });
        let mentions_reservation = (0..n).any(|k| text.is(k, "reserva"));
        let last_question = (0..n).rev().find(|&k| text.punct(k) == Some(b'?'));
        for i in 0..n {
            let w = text.word(i);
            let prev = if i > 0 { text.word(i - 1) } else { "" };
            let next = text.word(i + 1);
            let ends_clause =
                i + 1 >= n || matches!(text.punct(i + 1), Some(b'?' | b'!' | b',' | b'.'));
            if text.kind(i) == Some(Kind::Code) {
                s.status = true;
                continue;
            }
            if w.len() < 2 {
                // Punctuation, numbers and one-letter words carry no signal of their own.
                continue;
            }
            match w {
                "vendo" | "vendemos" | "compro" | "equivocaron" | "equivocado" | "equivocada" => {
                    s.off_topic = true;
                }
                "dolar" | "dolares" | "blue" | "partido" | "gano" | "futbol" | "euro" => {
                    s.off_topic_weak = true;
                }
                "humano" | "humana" | "operador" | "operadora" | "asesor" | "asesora"
                | "encargado" | "encargada" | "dueno" | "duena" | "propietario" | "propietaria"
                | "recepcionista" | "alguien" => s.human = true,
                "hablar" | "comunicar" | "comunicarme" | "comunicame" | "comunica"
                | "comunicas" | "pasar" | "pasas" | "pasame" | "pasa" | "derivar" | "derivame"
                    if next == "con" =>
                {
                    s.human = true;
                }
                "real" if prev == "persona" => s.human = true,
                "reserva" | "reservacion" | "reservas"
                    if matches!(prev, "mi" | "nuestra")
                        || (i >= 2
                            && text.is_any(i - 2, &["hice", "hicimos", "tengo", "tenemos"]))
                        || matches!(prev, "hice" | "hicimos" | "tengo" | "tenemos") =>
                {
                    s.status = true;
                }
                "reserva" if last_state_word.is_some_and(|k| k > i) => s.status = true,
                "estado" if next == "de" => s.status = true,
                "hice" | "hicimos"
                    if (next == "la" || next == "una")
                        && text.is_any(i + 2, &["reserva", "reservacion"]) =>
                {
                    s.status = true;
                }
                "reservar" if prev == "para" && !(i >= 3 && text.is(i - 2, "hago")) => {
                    s.book_weak = true;
                }
                "senar" | "senamos" | "senarla" | "avanzamos" | "avanzar" => s.book = true,
                // Any form of "reservar" that asks or commits ("reservo", "reservame",
                // "resérvenmela"), not the noun and not the past ("ya reservé": status).
                _ if w.starts_with("reserv")
                    && !matches!(
                        w,
                        "reserva"
                            | "reservas"
                            | "reservacion"
                            | "reservaciones"
                            | "reserve"
                            | "reservaste"
                            | "reservado"
                            | "reservada"
                            | "reservados"
                            | "reservadas"
                    ) =>
                {
                    s.book = true;
                }
                "confirmar"
                    if matches!(prev, "quiero" | "quisiera" | "queremos" | "quisieramos") =>
                {
                    s.book = true;
                }
                // A payment already made: the guest is asking about an existing reservation.
                "transferi" | "transferimos" | "pague" | "pagamos" | "deposite" | "depositamos"
                | "abone" | "abonamos" | "realice" | "realizamos" => s.status = true,
                // "necesito presupuesto" asks for a price; "tenemos un presupuesto de…" is a budget.
                "presupuesto" | "presupuestos"
                    if !matches!(prev, "un" | "mi" | "nuestro" | "el" | "tenemos") =>
                {
                    s.price = true;
                }
                "confirmo" | "confirmamos" if !matches!(prev, "te" | "le" | "les" | "despues") => {
                    s.book = true;
                }
                "tomo" | "tomamos" | "quiero" | "queremos" if matches!(prev, "la" | "lo") => {
                    s.book = true;
                }
                "hacer" if matches!(next, "la" | "una") && text.is(i + 2, "reserva") => {
                    s.book = true;
                }
                "cuanto" if prev != "en" => s.price = true,
                "precio" | "precios" | "tarifa" | "tarifas" | "costo" | "costos" | "valor"
                | "valores" | "cotizacion" | "cotizar" | "cuesta" => s.price = true,
                "incluye" | "incluido" | "incluida" | "incluidos" | "incluyen" => {
                    s.included = true;
                    s.info = true;
                }
                "tienen" | "tenes" | "tendran" | "tendrias" | "hay" | "habria" | "queda"
                    if next == "algo"
                        || (ends_clause && !is_info_word(prev) && !is_weak_info_word(prev)) =>
                {
                    s.availability = true;
                }
                "tienen" | "tenes" if prev == "que" && ends_clause => s.availability = true,
                "chau" | "chao" | "chaito" | "adios" => {
                    s.goodbye = true;
                    s.thanks = true;
                }
                "vemos" if prev == "nos" => {
                    s.goodbye = true;
                    s.thanks = true;
                }
                "luego" | "pronto" if prev == "hasta" => {
                    s.goodbye = true;
                    s.thanks = true;
                }
                "gracias" | "agradezco" | "agradecemos" | "agradecida" | "agradecido"
                | "saludos" => s.thanks = true,
                "hola" | "buenas" | "buenos" | "hey" | "holi" | "saludo" => s.greeting = true,
                "dia" | "dias" | "tardes" | "noches" | "domingo"
                    if prev == "buen" || prev == "buenas" || prev == "buenos" =>
                {
                    s.greeting = true;
                }
                "tal" if prev == "que" => s.greeting = true,
                "estas" | "estan" | "andan" | "andas" | "va" | "anda" if prev == "como" => {
                    s.greeting = true;
                }
                _ => {}
            }
            if w.starts_with("cancel") && !(w == "cancelacion" && prev == "de")
                || w.starts_with("anul")
            {
                s.cancel = true;
            }
            if w == "baja" && prev == "de" {
                s.cancel = true;
            }
            if is_availability_word(w) {
                // "lugar para estacionar" is parking, "que lindo lugar" a compliment.
                let parking = w == "lugar"
                    && (i + 1..(i + 4).min(n)).any(|k| {
                        text.is_any(
                            k,
                            &["estacionar", "auto", "autos", "camioneta", "coche", "moto"],
                        )
                    });
                let praise = w == "lugar"
                    && matches!(
                        prev,
                        "lindo" | "hermoso" | "precioso" | "bello" | "buen" | "gran" | "divino"
                    );
                if parking {
                    s.info = true;
                } else if !praise {
                    s.availability = true;
                }
            }
            if !in_unit(i) && (is_info_word(w) || asks_about_rooms(text, i)) {
                s.info = true;
            }
            if !in_unit(i) && is_weak_info_word(w) {
                s.info_weak = true;
            }
            // "que me atienda", "me pueda atender": someone to talk to.
            if matches!(w, "atienda" | "atender" | "atiendan" | "atiende")
                && (i.saturating_sub(3)..i).any(|k| text.is(k, "me"))
            {
                s.human = true;
            }
            // "ya mandé el comprobante", "cuándo me confirman la reserva": an existing reservation.
            if w == "comprobante"
                || (matches!(w, "confirman" | "confirmaron" | "confirmacion")
                    && mentions_reservation)
            {
                s.status = true;
            }
            // "a qué hora", "check in".
            if w == "hs" && prev == "que" {
                s.info = true;
            }
            // "check in", "check out" without a date: a question about times.
            if w == "check" && text.is_any(i + 1, &["in", "out"]) {
                s.info_weak = true;
            }
            // A question about the place: "se puede fumar?", "tienen vajilla?", "hay toallas?".
            if matches!(
                w,
                "tienen" | "tiene" | "hay" | "puede" | "puedo" | "podemos" | "incluyen"
            ) && !ends_clause
                && !is_availability_word(next)
                && next != "algo"
                && text.kind(i + 1) == Some(Kind::Word)
                && last_question.is_some_and(|q| q > i)
            {
                s.info_weak = true;
            }
            // "cómo pago", "cómo te abono": how to pay for a stay being arranged.
            if w == "como" && text.is_any(i + 1, &["pago", "abono", "transfiero", "deposito"])
                || w == "como"
                    && text.is_any(i + 1, &["te", "les", "le"])
                    && text.is_any(i + 2, &["pago", "abono", "transfiero"])
            {
                s.pay_question = true;
                s.info = true;
            }
            // "cómo llego", "cómo se llega", "dónde queda".
            if matches!(w, "llego" | "llegar" | "llega" | "llegamos")
                && (prev == "como" || (prev == "se" && text.is(i.wrapping_sub(2), "como")))
            {
                s.info = true;
            }
            if w == "queda" && prev == "donde" {
                s.info = true;
            }
            // "tienen para navidad?": availability unless a price is what is asked.
            if matches!(w, "tienen" | "tenes" | "hay" | "habra" | "tendran") && next == "para" {
                s.availability_weak = true;
            }
            if w == "como" && matches!(next, "reservo" | "reservamos" | "hago" | "se") {
                // "cómo reservo", "cómo hago para reservar": booking; "cómo se paga": info.
                if next == "reservo"
                    || next == "reservamos"
                    || (next == "hago"
                        && (i + 2..(i + 5).min(n)).any(|k| text.is_any(k, &["reservar", "senar"])))
                {
                    s.book = true;
                }
            }
            // "la del 15/9": a reservation named by its date.
            if w == "la"
                && next == "del"
                && matches!(text.kind(i + 2), Some(Kind::Date | Kind::Num))
                && lexicon::unit_noun(text.word(i + 3)).is_none()
            {
                s.status = true;
            }
        }
        s
    }
}

/// The main intent of a message.
pub(crate) fn read(text: &Text<'_>, found: &Found) -> Intent {
    let s = Signals::collect(text, found);
    let content = found.dates || found.nights || found.guests || found.unit;
    if s.off_topic {
        return Intent::Unknown;
    }
    if s.human {
        return Intent::Human;
    }
    if s.cancel {
        return Intent::Cancel;
    }
    if s.status {
        return Intent::Status;
    }
    if s.book || (s.book_weak && !s.price) || (s.pay_question && (found.dates || found.unit)) {
        return Intent::Book;
    }
    if s.off_topic_weak && !s.availability && !found.guests && !found.unit && !found.nights {
        return Intent::Unknown;
    }
    if s.availability {
        return Intent::Availability;
    }
    if s.price && !s.included {
        return Intent::Price;
    }
    if s.availability_weak {
        return Intent::Availability;
    }
    if s.info {
        return Intent::Info;
    }
    if s.goodbye {
        return Intent::Thanks;
    }
    if content {
        return Intent::Availability;
    }
    if s.info_weak {
        return Intent::Info;
    }
    if s.thanks {
        return Intent::Thanks;
    }
    if s.greeting {
        return Intent::Greeting;
    }
    Intent::Unknown
}
