//! xorshift64*: tiny deterministic pseudo-random numbers for the
//! conformance checks and the fault injector, so that a failure repeats
//! with its seed. Not for anything that needs real randomness.

/// A xorshift64* generator.
#[derive(Debug, Clone)]
pub(crate) struct XorShift(u64);

/// The golden-ratio increment of splitmix64.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

impl XorShift {
    /// A generator seeded with `seed` (any value: the state is never 0).
    #[cfg_attr(not(feature = "conformance"), allow(dead_code))]
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(GOLDEN) | 1)
    }

    /// Stream `index` of `seed` (splitmix64 of both, so neighbouring seeds
    /// or indexes give unrelated streams).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn stream(seed: u64, index: u64) -> Self {
        let mut z = seed ^ index.wrapping_mul(GOLDEN);
        z = z.wrapping_add(GOLDEN);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Self(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..bound` (`bound > 0`).
    #[cfg_attr(not(feature = "conformance"), allow(dead_code))]
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    /// A uniform draw in `[0, 1)`.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
