//! Query arguments: anything that can list its values as `&dyn ToSql`.
//!
//! `fetch` and friends take `&[&(dyn ToSql + Sync)]` (so `&[]` and
//! `&[&1i64, &"a"]` just work); `executemany` takes any iterator of
//! [`Params`]: tuples, arrays, vectors or slices of values.
//!
//! ```
//! use edgepg_core::client::Params;
//! let row = (1i64, "a", Some(2.5f64));
//! assert_eq!(Params::len(&row), 3);
//! let v: Vec<i32> = vec![1, 2];
//! assert_eq!(Params::len(&v), 2);
//! ```

use crate::types::ToSql;

/// The arguments of one execution of a statement.
pub trait Params {
    /// How many arguments there are.
    fn len(&self) -> usize;
    /// Argument `i` (0-based; `$1` is 0). Only called with `i < len()`.
    fn param(&self, i: usize) -> &dyn ToSql;
    /// True when there are no arguments.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: ToSql> Params for [T] {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    fn param(&self, i: usize) -> &dyn ToSql {
        &self[i]
    }
}

impl<T: ToSql, const N: usize> Params for [T; N] {
    fn len(&self) -> usize {
        N
    }
    fn param(&self, i: usize) -> &dyn ToSql {
        &self[i]
    }
}

impl<T: ToSql> Params for Vec<T> {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    fn param(&self, i: usize) -> &dyn ToSql {
        &self[i]
    }
}

impl<P: Params + ?Sized> Params for &P {
    fn len(&self) -> usize {
        P::len(*self)
    }
    fn param(&self, i: usize) -> &dyn ToSql {
        P::param(*self, i)
    }
}

/// The argument list of `fetch` & co.: a slice of trait objects.
pub(crate) struct DynParams<'a>(pub(crate) &'a [&'a (dyn ToSql + Sync)]);

impl Params for DynParams<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn param(&self, i: usize) -> &dyn ToSql {
        self.0[i]
    }
}

impl Params for () {
    fn len(&self) -> usize {
        0
    }
    fn param(&self, _: usize) -> &dyn ToSql {
        unreachable!("() has no parameters")
    }
}

macro_rules! tuple_params {
    ($n:expr; $($t:ident $i:tt),+) => {
        impl<$($t: ToSql),+> Params for ($($t,)+) {
            fn len(&self) -> usize { $n }
            fn param(&self, i: usize) -> &dyn ToSql {
                match i {
                    $($i => &self.$i,)+
                    _ => panic!("parameter index {i} out of range for a tuple of {}", $n),
                }
            }
        }
    };
}

tuple_params!(1; A 0);
tuple_params!(2; A 0, B 1);
tuple_params!(3; A 0, B 1, C 2);
tuple_params!(4; A 0, B 1, C 2, D 3);
tuple_params!(5; A 0, B 1, C 2, D 3, E 4);
tuple_params!(6; A 0, B 1, C 2, D 3, E 4, F 5);
tuple_params!(7; A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_params!(8; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_params!(9; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_params!(10; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_params!(11; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_params!(12; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);
