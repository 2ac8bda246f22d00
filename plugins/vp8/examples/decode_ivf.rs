//! Decodes every frame of an IVF file (for profiling): `decode_ivf FILE [ROUNDS]`.
use framepipe_vp8::Decoder;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: decode_ivf FILE [ROUNDS]");
    let rounds: usize = args.next().map_or(1, |r| r.parse().unwrap());
    let data = std::fs::read(path).unwrap();
    let mut shown = 0;
    for _ in 0..rounds {
        let mut at = usize::from(u16::from_le_bytes([data[6], data[7]]));
        let mut decoder = Decoder::new();
        while at + 12 <= data.len() {
            let size = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
            if decoder.decode(&data[at + 12..at + 12 + size]).unwrap() {
                shown += 1;
            }
            at += 12 + size;
        }
    }
    println!("{shown} pictures");
}
