//! A result's size in four bytes: exact below 2 GiB, to the KiB above (up to 2 TiB, beyond
//! which it saturates). The scheduler weighs sizes — where to place a task, how full a
//! worker is, what to move when rebalancing — and never needs more precision than that; a
//! `u64` in every task was four of the bytes that kept the task table above its goal.

/// See the [module](self).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Size(u32);

/// Set on a size counted in KiB.
const KIB: u32 = 1 << 31;

impl Size {
    pub(super) fn new(bytes: u64) -> Size {
        match u32::try_from(bytes) {
            Ok(b) if b < KIB => Size(b),
            _ => Size(KIB | u32::try_from(bytes >> 10).unwrap_or(u32::MAX).min(KIB - 1)),
        }
    }

    pub(super) fn bytes(self) -> u64 {
        if self.0 & KIB == 0 {
            u64::from(self.0)
        } else {
            u64::from(self.0 & !KIB) << 10
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Size;

    #[test]
    fn sizes_are_exact_below_two_gib_and_to_the_kib_above() {
        for b in [0, 1, 4095, (1 << 31) - 1] {
            assert_eq!(Size::new(b).bytes(), b);
        }
        for b in [1u64 << 31, (5 << 30) + 1023, 1 << 40] {
            let kept = Size::new(b).bytes();
            assert!(kept <= b && b - kept < 1024, "{b} kept as {kept}");
        }
        assert_eq!(Size::new(u64::MAX).bytes(), ((1u64 << 31) - 1) << 10, "saturates at 2 TiB");
    }
}
