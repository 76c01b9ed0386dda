// Type assertions for the type tests: `expectType(value)<Expected>(true)` compiles only
// when the value's type is Expected (mutually assignable, and `any` only matches `any`).

/** True when `T` is `any`. */
type IsAny<T> = 0 extends 1 & T ? true : false

/** True when `A` and `B` are the same type. */
export type Same<A, B> = IsAny<A> extends true
  ? IsAny<B>
  : IsAny<B> extends true ? false : [A] extends [B] ? [B] extends [A] ? true : false : false

/** `expectType(value)<Expected>(true)`: a compile error unless `value` is an `Expected`. */
export function expectType<A> (_value: A): <B>(check: Same<A, B>) => void {
  return () => {}
}

/** A value of type `T`, for checking a type without making one. */
export declare function is<T> (): T
