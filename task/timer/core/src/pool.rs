//! The timer pool: fixed-capacity node storage, generation-checked handles
//! and per-owner accounting.
//!
//! Why this module exists: the timer server has no heap, and clients name
//! timers across IPC, so a timer must be a slot in a fixed array addressed
//! by an index that cannot be confused with a previous user of the same slot.
//!
//! Guarantees:
//! - No heap and no `unsafe`: nodes live in `[Node; CAP]`, linked by
//!   integer indices ([`LinkIndex`]: `u16` for pools of up to 64 511
//!   timers, `u32` beyond).
//! - A [`TimerHandle`] carries the slot's [`Generation`]; freeing a slot bumps
//!   it, so a stale handle is rejected ([`TimerError::StaleHandle`]) until
//!   the 14-bit generation comes round again (16 383 reuses of one slot).
//!   Generation 0 is never issued, so an all-zero handle is always invalid.
//! - Allocation and free are O(1) plus an O(`OWNERS`) scan of the owner
//!   table; the per-tick path never touches the owner table.
//! - Each owner's count of allocated timers is kept exactly, so a quota can
//!   be enforced at allocation time; running out of slots, quota or owner
//!   table entries is an error value, never a panic.

use core::fmt;

/// Index type used for the intrusive links between nodes and list heads.
///
/// Implemented for `u16` (16-byte nodes, pools up to [`LinkIndex::MAX_NODES`]
/// = 64 511 timers) and `u32` (20-byte nodes, for very large host pools).
pub trait LinkIndex: Copy + Eq + fmt::Debug + private::Sealed {
    /// The "no link" value.
    const NIL: Self;
    /// The largest pool capacity this index type can address, after
    /// reserving room for the wheel's list heads and for `NIL`.
    const MAX_NODES: usize;
    /// Convert from `usize`; the caller guarantees the value fits.
    fn from_usize(i: usize) -> Self;
    /// Convert to `usize`.
    fn to_usize(self) -> usize;
}

mod private {
    pub trait Sealed {}
    impl Sealed for u16 {}
    impl Sealed for u32 {}
}

/// Number of list heads in the wheel (2 classes x 512 slots); link indices
/// below this name heads, indices at or above it name nodes.
pub(crate) const HEADS: usize = 1024;

impl LinkIndex for u16 {
    const NIL: u16 = u16::MAX;
    const MAX_NODES: usize = u16::MAX as usize - HEADS;
    #[inline(always)]
    fn from_usize(i: usize) -> u16 {
        i as u16
    }
    #[inline(always)]
    fn to_usize(self) -> usize {
        self as usize
    }
}

impl LinkIndex for u32 {
    const NIL: u32 = u32::MAX;
    const MAX_NODES: usize = (u32::MAX as usize >> 1) - HEADS;
    #[inline(always)]
    fn from_usize(i: usize) -> u32 {
        i as u32
    }
    #[inline(always)]
    fn to_usize(self) -> usize {
        self as usize
    }
}

/// Opaque identity of whoever owns a timer or hook (the timer server uses
/// the client's task id). The core only compares and counts it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, PartialOrd, Ord)]
pub struct Owner(pub u16);

/// Reuse counter of a pool slot: 14 bits, never 0.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Generation(u16);

impl Generation {
    /// Largest generation value (generations run 1..=MAX then wrap to 1).
    pub const MAX: u16 = 0x3FFF;
    /// The raw value, in `1..=Generation::MAX`.
    pub const fn get(self) -> u16 {
        self.0
    }
    const fn next(self) -> Generation {
        if self.0 >= Self::MAX { Generation(1) } else { Generation(self.0 + 1) }
    }
}

/// Names one timer in a pool: slot index plus generation.
///
/// Copyable and cheap; it is only a name. Every operation validates it and
/// fails with [`TimerError::StaleHandle`] once the timer has been freed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TimerHandle {
    index: u32,
    generation: Generation,
}

impl TimerHandle {
    /// Slot index in the pool, `0..CAP`.
    pub const fn index(self) -> u32 {
        self.index
    }
    /// Generation of the slot when this handle was issued.
    pub const fn generation(self) -> Generation {
        self.generation
    }
    /// Pack into a `u64` for IPC: generation in bits 32..46, index in 0..32.
    pub const fn to_bits(self) -> u64 {
        ((self.generation.0 as u64) << 32) | self.index as u64
    }
    /// Unpack a value made by [`TimerHandle::to_bits`]. Any `u64` is accepted
    /// here; a forged or stale value is rejected when used, and a generation
    /// outside `1..=Generation::MAX` can never match a live slot.
    pub const fn from_bits(bits: u64) -> TimerHandle {
        TimerHandle { index: bits as u32, generation: Generation((bits >> 32) as u16) }
    }
}

/// Why a timer operation was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TimerError {
    /// The handle names a freed slot, a reused slot or no slot at all.
    StaleHandle,
    /// `add_timer` on a timer that is already pending (use `mod_timer`).
    AlreadyPending,
    /// Every slot of the pool is allocated.
    PoolExhausted,
    /// The owner already holds as many timers as its quota allows.
    QuotaExceeded,
    /// The owner table is full: too many distinct owners hold timers.
    TooManyOwners,
}

impl fmt::Display for TimerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimerError::StaleHandle => "stale or invalid timer handle",
            TimerError::AlreadyPending => "timer is already pending",
            TimerError::PoolExhausted => "timer pool exhausted",
            TimerError::QuotaExceeded => "owner's timer quota exceeded",
            TimerError::TooManyOwners => "owner table full",
        })
    }
}

/// Doubly-linked list links (indices; see [`LinkIndex`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Link<I> {
    pub next: I,
    pub prev: I,
}

pub(crate) const META_ALLOCATED: u16 = 0x8000;
pub(crate) const META_DEFERRABLE: u16 = 0x4000;
pub(crate) const META_GEN: u16 = Generation::MAX;

/// One timer: 16 bytes with `u16` links.
///
/// `expires` keeps only the low 32 bits of the expiry; the wheel rebuilds the
/// full 64-bit value from its `timer_jiffies`, which is possible because a
/// pending expiry always lies in `[timer_jiffies, timer_jiffies + 2^32 - 1]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node<I> {
    /// Wheel links; `prev == NIL` means not pending. On the free list,
    /// `next` is the next free slot.
    pub link: Link<I>,
    /// Low 32 bits of the absolute expiry (jiffies).
    pub expires: u32,
    /// Re-arm period in jiffies, 0 for one-shot.
    pub period: u32,
    /// Owner id.
    pub owner: u16,
    /// Allocated flag, deferrable flag and 14-bit generation.
    pub meta: u16,
}

#[derive(Clone, Copy, Debug)]
struct OwnerCount {
    owner: u16,
    count: u16,
}

/// Fixed-capacity node storage with a free list and owner accounting.
pub(crate) struct Pool<const CAP: usize, T, I, const OWNERS: usize> {
    pub nodes: [Node<I>; CAP],
    pub tokens: [T; CAP],
    free_head: I,
    allocated: usize,
    owners: [OwnerCount; OWNERS],
}

impl<const CAP: usize, T: Copy + Default, I: LinkIndex, const OWNERS: usize> Pool<CAP, T, I, OWNERS> {
    pub fn new() -> Self {
        const { assert!(CAP <= I::MAX_NODES, "pool capacity too large for the link index type") };
        let mut nodes = [Node {
            link: Link { next: I::NIL, prev: I::NIL },
            expires: 0,
            period: 0,
            owner: 0,
            meta: 1,
        }; CAP];
        for (i, n) in nodes.iter_mut().enumerate() {
            n.link.next = if i + 1 < CAP { I::from_usize(i + 1) } else { I::NIL };
        }
        Pool {
            nodes,
            tokens: [T::default(); CAP],
            free_head: if CAP > 0 { I::from_usize(0) } else { I::NIL },
            allocated: 0,
            owners: [OwnerCount { owner: 0, count: 0 }; OWNERS],
        }
    }

    /// Initialises a pool at `p` in place, equal to [`Pool::new`] but
    /// without building a temporary on the stack.
    ///
    /// # Safety
    /// `p` must be valid for writes and suitably aligned; any previous
    /// contents are overwritten without being dropped.
    #[allow(unsafe_code)]
    pub(crate) unsafe fn init_at(p: *mut Self) {
        const { assert!(CAP <= I::MAX_NODES, "pool capacity too large for the link index type") };
        // Safety: the caller guarantees `p` is valid and aligned; every
        // field is written exactly once through a raw pointer, element by
        // element for the arrays, so no reference to uninitialised memory
        // is ever formed.
        unsafe {
            let nodes = core::ptr::addr_of_mut!((*p).nodes) as *mut Node<I>;
            let tokens = core::ptr::addr_of_mut!((*p).tokens) as *mut T;
            for i in 0..CAP {
                let next = if i + 1 < CAP { I::from_usize(i + 1) } else { I::NIL };
                nodes.add(i).write(Node { link: Link { next, prev: I::NIL }, expires: 0, period: 0, owner: 0, meta: 1 });
                tokens.add(i).write(T::default());
            }
            core::ptr::addr_of_mut!((*p).free_head).write(if CAP > 0 { I::from_usize(0) } else { I::NIL });
            core::ptr::addr_of_mut!((*p).allocated).write(0);
            let owners = core::ptr::addr_of_mut!((*p).owners) as *mut OwnerCount;
            for i in 0..OWNERS {
                owners.add(i).write(OwnerCount { owner: 0, count: 0 });
            }
        }
    }

    /// Index of the live node named by `h`.
    #[inline(always)]
    pub fn resolve(&self, h: TimerHandle) -> Result<usize, TimerError> {
        let i = h.index as usize;
        match self.nodes.get(i) {
            Some(n) if n.meta & META_ALLOCATED != 0 && n.meta & META_GEN == h.generation.0 => Ok(i),
            _ => Err(TimerError::StaleHandle),
        }
    }

    pub fn handle_of(&self, i: usize) -> TimerHandle {
        TimerHandle { index: i as u32, generation: Generation(self.nodes[i].meta & META_GEN) }
    }

    pub fn alloc(&mut self, owner: Owner, token: T, deferrable: bool, quota: u16) -> Result<TimerHandle, TimerError> {
        if self.free_head == I::NIL {
            return Err(TimerError::PoolExhausted);
        }
        let slot = self.owner_slot(owner, true).ok_or(TimerError::TooManyOwners)?;
        if self.owners[slot].count >= quota {
            return Err(TimerError::QuotaExceeded);
        }
        self.owners[slot].owner = owner.0;
        self.owners[slot].count += 1;
        let i = self.free_head.to_usize();
        let n = &mut self.nodes[i];
        self.free_head = n.link.next;
        n.link = Link { next: I::NIL, prev: I::NIL };
        n.expires = 0;
        n.period = 0;
        n.owner = owner.0;
        n.meta = (n.meta & META_GEN) | META_ALLOCATED | if deferrable { META_DEFERRABLE } else { 0 };
        self.tokens[i] = token;
        self.allocated += 1;
        Ok(self.handle_of(i))
    }

    /// Return node `i` (already unlinked from the wheel) to the free list.
    pub fn release(&mut self, i: usize) {
        let owner = self.nodes[i].owner;
        if let Some(slot) = self.owner_slot(Owner(owner), false) {
            self.owners[slot].count -= 1;
        }
        let n = &mut self.nodes[i];
        let gen = Generation(n.meta & META_GEN).next();
        n.meta = gen.0;
        n.period = 0;
        n.link = Link { next: self.free_head, prev: I::NIL };
        self.free_head = I::from_usize(i);
        self.tokens[i] = T::default();
        self.allocated -= 1;
    }

    /// Slot of `owner` in the owner table; with `insert`, an empty slot if
    /// the owner has none yet.
    fn owner_slot(&self, owner: Owner, insert: bool) -> Option<usize> {
        let mut empty = None;
        for (k, o) in self.owners.iter().enumerate() {
            if o.count != 0 && o.owner == owner.0 {
                return Some(k);
            }
            if o.count == 0 && empty.is_none() {
                empty = Some(k);
            }
        }
        if insert { empty } else { None }
    }

    pub fn owned_by(&self, owner: Owner) -> u16 {
        self.owner_slot(owner, false).map_or(0, |k| self.owners[k].count)
    }

    pub fn allocated(&self) -> usize {
        self.allocated
    }
}
