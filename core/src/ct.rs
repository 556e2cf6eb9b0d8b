//! Constant-time equality of byte strings, a machine word at a time.
//!
//! `subtle`'s slice comparison turns every byte into a `Choice` through an
//! optimization barrier; for the signatures compared on every authorization that is
//! most of the comparison's cost. Here the differences of whole words are OR-ed
//! together with no branch on the data, and only the result goes through `subtle`'s
//! barrier. The lengths are not secret (a signature's length is fixed by its
//! algorithm), so unequal lengths answer at once.

use subtle::ConstantTimeEq;

/// True when `a` and `b` hold the same bytes, in time that depends only on their
/// lengths.
pub(crate) fn eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u64;
    let (wa, wb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (wa.remainder(), wb.remainder());
    for (x, y) in wa.zip(wb) {
        let x = u64::from_ne_bytes(x.try_into().expect("8 bytes"));
        let y = u64::from_ne_bytes(y.try_into().expect("8 bytes"));
        diff |= x ^ y;
    }
    for (x, y) in ra.iter().zip(rb) {
        diff |= u64::from(x ^ y);
    }
    diff.ct_eq(&0).into()
}

#[cfg(test)]
mod tests {
    use super::eq;

    #[test]
    fn equal_strings_of_every_length_up_to_three_words_are_equal() {
        let bytes: Vec<u8> = (0..25u8).map(|i| i.wrapping_mul(37)).collect();
        let copy = bytes.clone();
        for n in 0..=bytes.len() {
            assert!(eq(&bytes[..n], &copy[..n]), "length {n}");
        }
    }

    #[test]
    fn one_changed_bit_anywhere_makes_them_differ() {
        let bytes: Vec<u8> = (0..25u8).collect();
        for n in 1..=bytes.len() {
            for at in 0..n {
                for bit in 0..8 {
                    let mut other = bytes[..n].to_vec();
                    other[at] ^= 1 << bit;
                    assert!(!eq(&bytes[..n], &other), "length {n}, byte {at}, bit {bit}");
                }
            }
        }
    }

    #[test]
    fn different_lengths_differ() {
        assert!(!eq(b"abc", b"abcd"));
        assert!(!eq(b"", b"a"));
        assert!(eq(b"", b""));
    }
}
