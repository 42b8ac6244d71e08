//! libphonenumber's example numbers, every region and every number type, must come back
//! as exactly their own E.164 in every form customers and providers write them.

use phonenumber::metadata::{Descriptor, Metadata, DATABASE};
use phonenumber::{country, Mode};

use super::phone::parse_phone;
use super::{IdentityKind, IdentityNormaliser};

/// Number types that are whole subscriber numbers (short codes and emergency are not).
pub(super) fn examples(meta: &Metadata) -> Vec<(&'static str, &str)> {
    let d = meta.descriptors();
    let typed: [(&'static str, Option<&Descriptor>); 10] = [
        ("fixed_line", d.fixed_line()),
        ("mobile", d.mobile()),
        ("toll_free", d.toll_free()),
        ("premium_rate", d.premium_rate()),
        ("shared_cost", d.shared_cost()),
        ("personal_number", d.personal_number()),
        ("voip", d.voip()),
        ("pager", d.pager()),
        ("uan", d.uan()),
        ("voicemail", d.voicemail()),
    ];
    typed
        .into_iter()
        .filter_map(|(kind, d)| Some((kind, d?.example()?)))
        .collect()
}

fn normalised(n: &IdentityNormaliser, kind: IdentityKind, raw: &str) -> Result<String, String> {
    n.normalise(kind, raw)
        .map(|ids| ids[0].value().to_owned())
        .map_err(|e| e.to_string())
}

#[test]
fn every_example_number_of_every_region_keeps_its_exact_e164() {
    // The default region must never leak into a number that carries its own country:
    // US (national prefix 1) and GB (0) are the two ways it used to.
    let defaults = [
        IdentityNormaliser::new("US").expect("US"),
        IdentityNormaliser::new("GB").expect("GB"),
    ];
    let mut failures = Vec::new();
    let (mut regions, mut checked) = (0, 0);
    for meta in DATABASE.iter() {
        regions += 1;
        let own = IdentityNormaliser::new(meta.id()).ok();
        for (kind, example) in examples(meta) {
            let e164 = format!("+{}{}", meta.country_code(), example);
            let mut forms: Vec<(String, IdentityKind, String, &IdentityNormaliser)> = Vec::new();
            for n in &defaults {
                forms.push(("e164".into(), IdentityKind::Phone, e164.clone(), n));
                forms.push((
                    "00".into(),
                    IdentityKind::Phone,
                    format!("00{}", &e164[1..]),
                    n,
                ));
                forms.push((
                    "wa_id".into(),
                    IdentityKind::Whatsapp,
                    e164[1..].to_owned(),
                    n,
                ));
            }
            // Written as the country itself writes it, under its own default region.
            if let (Some(n), Ok(parsed)) = (&own, parse_phone(country::US, &e164)) {
                let national = parsed.format().mode(Mode::National).to_string();
                let intl = parsed.format().mode(Mode::International).to_string();
                forms.push(("national".into(), IdentityKind::Phone, national, n));
                forms.push(("international".into(), IdentityKind::Phone, intl, n));
            }
            for (form, id_kind, raw, n) in forms {
                checked += 1;
                match normalised(n, id_kind, &raw) {
                    Ok(got) if got == e164 => {}
                    got => failures.push(format!(
                        "{} {kind} {form} `{raw}`: expected {e164}, got {got:?}",
                        meta.id()
                    )),
                }
            }
        }
    }
    assert!(regions > 240, "the metadata knows every region ({regions})");
    assert!(
        failures.is_empty(),
        "{} of {checked} forms are wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
