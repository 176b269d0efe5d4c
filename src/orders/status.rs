//! The order status machine: one transition table, in one place. Handlers and jobs ask it
//! what an action does from a status; anything not in the table is an illegal transition
//! (409).

crate::db::stored::stored_enum! {
    pub enum Fulfilment as "fulfilment" {
        /// Collected at the counter.
        Pickup,
        /// Brought out to the customer's car.
        Curbside,
        /// Shipped from the location.
        Delivery,
    }
}

crate::db::stored::stored_enum! {
    pub enum Status as "order status" {
        /// Some lines come from another location: the order waits for their transfer to
        /// reach the store, then becomes `confirmed`.
        AwaitingTransfer,
        Confirmed,
        Picking,
        ReadyForPickup,
        Collected,
        Shipped,
        Delivered,
        Cancelled,
        Expired,
        /// Some units came back at a store (`returns` says which).
        PartiallyReturned,
        /// Every unit bought came back.
        Returned,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    StartPicking,
    MarkReady,
    Collect,
    Ship,
    Deliver,
    Cancel,
    Expire,
    /// Every transfer the order waited on has been received (in full or not).
    TransferArrived,
}

/// What an action does to the order's reserved stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockEffect {
    None,
    /// Units leave the building: `on_hand` and `reserved` drop.
    Consume,
    /// Units go back on sale: `reserved` drops.
    Release,
}

/// The transition table: the status an action leads to from `status`, or `None` when the
/// action is not allowed there.
pub fn next(status: Status, fulfilment: Fulfilment, action: Action) -> Option<Status> {
    use Action as A;
    use Fulfilment as F;
    use Status as S;
    let in_person = matches!(fulfilment, F::Pickup | F::Curbside);
    match (status, action) {
        (S::AwaitingTransfer, A::TransferArrived) => Some(S::Confirmed),
        (S::Confirmed, A::StartPicking) => Some(S::Picking),
        (S::Picking, A::MarkReady) if in_person => Some(S::ReadyForPickup),
        (S::ReadyForPickup, A::Collect) if in_person => Some(S::Collected),
        (S::Picking, A::Ship) if !in_person => Some(S::Shipped),
        (S::Shipped, A::Deliver) if !in_person => Some(S::Delivered),
        (S::AwaitingTransfer | S::Confirmed | S::Picking | S::ReadyForPickup, A::Cancel) => Some(S::Cancelled),
        (S::ReadyForPickup, A::Expire) => Some(S::Expired),
        _ => None,
    }
}

/// The status in words, for sentences: "ready for pickup", not `ready_for_pickup`.
pub fn words(status: Status) -> &'static str {
    match status {
        Status::AwaitingTransfer => "waiting for a transfer",
        Status::Confirmed => "confirmed",
        Status::Picking => "being picked",
        Status::ReadyForPickup => "ready for pickup",
        Status::Collected => "collected",
        Status::Shipped => "shipped",
        Status::Delivered => "delivered",
        Status::Cancelled => "cancelled",
        Status::Expired => "expired",
        Status::PartiallyReturned => "partly returned",
        Status::Returned => "returned",
    }
}

impl Action {
    /// The step, as it follows "cannot": "be marked ready", "start picking".
    pub fn step(&self) -> &'static str {
        match self {
            Action::StartPicking => "start picking",
            Action::MarkReady => "be marked ready",
            Action::Collect => "be collected",
            Action::Ship => "be shipped",
            Action::Deliver => "be marked delivered",
            Action::Cancel => "be cancelled",
            Action::Expire => "expire",
            Action::TransferArrived => "take its transfer in",
        }
    }
}

/// Why an action is refused from a status, in a plain sentence that names the step, e.g.
/// "order 1A2B3C4D is ready for pickup, so it cannot be marked ready".
pub fn refusal(number: &str, status: Status, fulfilment: Fulfilment, action: Action) -> String {
    let in_person = matches!(fulfilment, Fulfilment::Pickup | Fulfilment::Curbside);
    let hint = match (action, in_person) {
        (Action::MarkReady | Action::Collect, false) => "; it is a delivery order: ship it instead",
        (Action::Ship | Action::Deliver, true) => "; it is a pickup order: mark it ready for the customer instead",
        _ => "",
    };
    format!("order {number} is {}, so it cannot {}{hint}", words(status), action.step())
}

pub fn stock_effect(action: Action) -> StockEffect {
    match action {
        Action::Collect | Action::Ship => StockEffect::Consume,
        Action::Cancel | Action::Expire => StockEffect::Release,
        Action::StartPicking | Action::MarkReady | Action::Deliver | Action::TransferArrived => StockEffect::None,
    }
}

/// The status an order reaches when units come back: `returned` once every unit bought has,
/// else `partially_returned`. `None` from a status nothing is returned from (it never left
/// the store, or all of it is back already).
pub fn after_return(status: Status, everything_back: bool) -> Option<Status> {
    match status {
        Status::Collected | Status::Delivered | Status::PartiallyReturned => {
            Some(if everything_back { Status::Returned } else { Status::PartiallyReturned })
        }
        _ => None,
    }
}

impl Status {
    /// The statuses in which an order still holds stock: the one list every query uses.
    pub const OPEN: [Status; 4] =
        [Status::AwaitingTransfer, Status::Confirmed, Status::Picking, Status::ReadyForPickup];

    /// The open statuses as stored, for queries.
    pub fn open_words() -> [&'static str; 4] {
        Status::OPEN.map(|s| s.as_str())
    }

    /// Statuses in which the order still holds stock.
    pub fn holds_stock(&self) -> bool {
        Status::OPEN.contains(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use Status::*;

    const ALL: &[Status] = <Status as strum::VariantArray>::VARIANTS;
    const ACTIONS: [Action; 8] = [StartPicking, MarkReady, Collect, Ship, Deliver, Cancel, Expire, TransferArrived];

    #[test]
    fn pickup_and_curbside_follow_the_counter_path() {
        for f in [Fulfilment::Pickup, Fulfilment::Curbside] {
            assert_eq!(next(Confirmed, f, StartPicking), Some(Picking));
            assert_eq!(next(Picking, f, MarkReady), Some(ReadyForPickup));
            assert_eq!(next(ReadyForPickup, f, Collect), Some(Collected));
            assert_eq!(next(ReadyForPickup, f, Expire), Some(Expired));
            assert_eq!(next(Picking, f, Ship), None);
        }
    }

    #[test]
    fn an_order_waiting_on_a_transfer_can_only_be_cancelled_until_it_arrives() {
        for f in [Fulfilment::Pickup, Fulfilment::Curbside] {
            assert_eq!(next(AwaitingTransfer, f, TransferArrived), Some(Confirmed));
            assert_eq!(next(AwaitingTransfer, f, Cancel), Some(Cancelled));
            for action in [StartPicking, MarkReady, Collect, Expire] {
                assert_eq!(next(AwaitingTransfer, f, action), None, "{action:?}");
            }
            assert_eq!(next(Confirmed, f, TransferArrived), None, "it arrives once");
        }
        assert!(AwaitingTransfer.holds_stock());
    }

    #[test]
    fn delivery_ships_and_is_delivered() {
        let f = Fulfilment::Delivery;
        assert_eq!(next(Picking, f, Ship), Some(Shipped));
        assert_eq!(next(Shipped, f, Deliver), Some(Delivered));
        assert_eq!(next(Picking, f, MarkReady), None);
        assert_eq!(next(Shipped, f, Cancel), None, "nothing is cancelled once shipped");
    }

    #[test]
    fn refusals_are_plain_sentences_that_name_the_step() {
        assert_eq!(
            refusal("1A2B3C4D", ReadyForPickup, Fulfilment::Pickup, MarkReady),
            "order 1A2B3C4D is ready for pickup, so it cannot be marked ready"
        );
        assert_eq!(
            refusal("X", Collected, Fulfilment::Pickup, Cancel),
            "order X is collected, so it cannot be cancelled"
        );
        assert!(refusal("X", Picking, Fulfilment::Delivery, MarkReady).ends_with("ship it instead"));
        for &status in ALL {
            for action in ACTIONS {
                let text = refusal("X", status, Fulfilment::Pickup, action);
                assert!(!text.contains('_') && !text.contains("Mark"), "{text}");
            }
        }
    }

    #[test]
    fn only_what_left_the_store_comes_back() {
        for &status in ALL {
            let returnable = matches!(status, Collected | Delivered | PartiallyReturned);
            assert_eq!(after_return(status, false).is_some(), returnable, "{status:?}");
        }
        assert_eq!(after_return(Collected, false), Some(PartiallyReturned));
        assert_eq!(after_return(PartiallyReturned, true), Some(Returned));
        assert_eq!(after_return(Returned, true), None, "nothing is left to return");
    }

    #[test]
    fn final_statuses_accept_nothing() {
        for status in [Collected, Delivered, Cancelled, Expired, PartiallyReturned, Returned] {
            for f in [Fulfilment::Pickup, Fulfilment::Curbside, Fulfilment::Delivery] {
                for action in ACTIONS {
                    assert_eq!(next(status, f, action), None, "{status:?} {action:?}");
                }
            }
        }
    }

    #[test]
    fn only_statuses_that_hold_stock_can_release_or_consume_it() {
        for &status in ALL {
            for f in [Fulfilment::Pickup, Fulfilment::Curbside, Fulfilment::Delivery] {
                for action in ACTIONS {
                    if next(status, f, action).is_some() && stock_effect(action) != StockEffect::None {
                        assert!(status.holds_stock(), "{status:?} {action:?}");
                    }
                }
            }
        }
    }
}
