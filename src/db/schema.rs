//! Diesel table definitions, written for the subset of types that PostgreSQL and SQLite share.
//! Must match `migrations/postgres` and `migrations/sqlite`.

diesel::table! {
    locations (code) {
        code -> Text,
        name -> Text,
        kind -> Text,
        timezone -> Text,
        address -> Nullable<Text>,
        latitude -> Nullable<Double>,
        longitude -> Nullable<Double>,
        pickup_in_store -> Bool,
        pickup_curbside -> Bool,
        pickup_hold_days -> Integer,
        fulfils_online -> Bool,
        active -> Bool,
        locale -> Nullable<Text>,
        opening_hours -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    products (sku) {
        sku -> Text,
        name -> Text,
        price_amount_minor -> BigInt,
        price_currency -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    stock_levels (location, sku) {
        location -> Text,
        sku -> Text,
        on_hand -> BigInt,
        reserved -> BigInt,
        safety_stock -> BigInt,
        last_counted_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    stock_movements (id) {
        id -> BigInt,
        location -> Text,
        sku -> Text,
        delta_on_hand -> BigInt,
        delta_reserved -> BigInt,
        reason -> Text,
        reference -> Nullable<Text>,
        actor -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    stock_shorts (location, sku, holder, holder_id) {
        location -> Text,
        sku -> Text,
        holder -> Text,
        holder_id -> Text,
        short -> BigInt,
        since -> Timestamp,
    }
}

diesel::table! {
    channels (code) {
        code -> Text,
        name -> Text,
        buffer -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        default_location -> Nullable<Text>,
        webhook_url -> Nullable<Text>,
        webhook_secret -> Nullable<Text>,
    }
}

diesel::table! {
    channel_pushes (channel) {
        channel -> Text,
        cursor_txid -> BigInt,
        cursor_seq -> BigInt,
        state -> Text,
        failures -> Integer,
        next_attempt_at -> Timestamp,
        leased_until -> Nullable<Timestamp>,
        last_attempt_at -> Nullable<Timestamp>,
        last_success_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        batches_sent -> BigInt,
    }
}

diesel::table! {
    channel_locations (channel, location) {
        channel -> Text,
        location -> Text,
    }
}

diesel::table! {
    idempotency_keys (owner, key) {
        owner -> Text,
        key -> Text,
        request_hash -> Text,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    reservations (id) {
        id -> Text,
        location -> Text,
        owner -> Text,
        status -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        extended_at -> Nullable<Timestamp>,
        slot_id -> Nullable<Text>,
    }
}

diesel::table! {
    reservation_lines (reservation_id, sku) {
        reservation_id -> Text,
        sku -> Text,
        quantity -> BigInt,
    }
}

diesel::table! {
    orders (id) {
        id -> Text,
        location -> Text,
        fulfilment -> Text,
        status -> Text,
        customer_id -> Text,
        created_by -> Text,
        channel -> Nullable<Text>,
        external_ref -> Nullable<Text>,
        reservation_id -> Nullable<Text>,
        pickup_code_hash -> Nullable<Text>,
        pickup_code_nonce -> Nullable<Text>,
        pickup_deadline -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        number -> Text,
        import_hash -> Nullable<Text>,
    }
}

diesel::table! {
    order_lines (order_id, sku) {
        order_id -> Text,
        sku -> Text,
        quantity -> BigInt,
    }
}

diesel::table! {
    order_shipments (order_id) {
        order_id -> Text,
        carrier -> Text,
        tracking_number -> Text,
        shipped_at -> Timestamp,
    }
}

diesel::table! {
    order_arrivals (order_id) {
        order_id -> Text,
        arrived_at -> Timestamp,
        bay -> Nullable<Text>,
        vehicle -> Nullable<Text>,
        note -> Nullable<Text>,
    }
}

diesel::table! {
    order_events (id) {
        id -> BigInt,
        order_id -> Text,
        at -> Timestamp,
        actor -> Text,
        kind -> Text,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    customers (id) {
        id -> Text,
        name -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        locale -> Nullable<Text>,
        timezone -> Nullable<Text>,
        channel_email -> Bool,
        channel_sms -> Bool,
        channel_push -> Bool,
        channel_webhook -> Bool,
        webhook_url -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        email_tracking -> Bool,
        channel_whatsapp -> Bool,
        channel_viber -> Bool,
    }
}

diesel::table! {
    customer_consents (id) {
        id -> BigInt,
        customer_id -> Text,
        channel -> Text,
        granted -> Bool,
        at -> Timestamp,
        source -> Text,
    }
}

diesel::table! {
    push_subscriptions (id) {
        id -> Text,
        customer_id -> Text,
        endpoint -> Text,
        p256dh -> Text,
        auth -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        order_id -> Nullable<Text>,
        customer_id -> Text,
        event -> Text,
        channel -> Text,
        status -> Text,
        dedupe_key -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        retry_until -> Timestamp,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        error -> Nullable<Text>,
        provider_ref -> Nullable<Text>,
        resent_at -> Nullable<Timestamp>,
        subject -> Nullable<Text>,
    }
}

diesel::table! {
    changes (seq) {
        seq -> BigInt,
        txid -> BigInt,
        at -> Timestamp,
        kind -> Text,
        location -> Text,
        sku -> Nullable<Text>,
        order_id -> Nullable<Text>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    change_log_pruned (id) {
        id -> Integer,
        txid -> BigInt,
        seq -> BigInt,
        pruned_at -> Timestamp,
    }
}

diesel::joinable!(stock_levels -> locations (location));
diesel::joinable!(customer_consents -> customers (customer_id));
diesel::joinable!(push_subscriptions -> customers (customer_id));
diesel::joinable!(notifications -> orders (order_id));
diesel::joinable!(order_lines -> orders (order_id));
diesel::joinable!(order_lines -> products (sku));
diesel::joinable!(order_events -> orders (order_id));
diesel::joinable!(order_shipments -> orders (order_id));
diesel::joinable!(order_arrivals -> orders (order_id));
diesel::joinable!(reservation_lines -> reservations (reservation_id));
diesel::joinable!(stock_levels -> products (sku));
diesel::joinable!(channel_locations -> channels (channel));
diesel::joinable!(channel_pushes -> channels (channel));
diesel::joinable!(channel_locations -> locations (location));

diesel::table! {
    console_devices (id) {
        id -> Text,
        store -> Text,
        label -> Nullable<Text>,
        pairing_code_hash -> Text,
        pairing_expires_at -> Timestamp,
        paired_at -> Nullable<Timestamp>,
        token_expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        created_by -> Text,
        revoked_at -> Nullable<Timestamp>,
        revoked_by -> Nullable<Text>,
    }
}

diesel::joinable!(console_devices -> locations (store));

diesel::table! {
    order_returns (id) {
        id -> Text,
        order_id -> Text,
        location -> Text,
        actor -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    order_return_lines (return_id, sku, condition) {
        return_id -> Text,
        sku -> Text,
        condition -> Text,
        quantity -> BigInt,
    }
}

diesel::table! {
    slot_rules (location) {
        location -> Text,
        rules -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    order_slots (order_id) {
        order_id -> Text,
        slot_id -> Text,
    }
}

diesel::table! {
    slot_bookings (location, fulfilment, starts_at, minutes) {
        location -> Text,
        fulfilment -> Text,
        starts_at -> Timestamp,
        minutes -> Integer,
        booked -> BigInt,
    }
}

diesel::table! {
    location_capacity (location) {
        location -> Text,
        picking_per_hour -> Integer,
    }
}

diesel::table! {
    order_promises (order_id) {
        order_id -> Text,
        promised_at -> Timestamp,
    }
}

diesel::joinable!(order_promises -> orders (order_id));
diesel::joinable!(order_returns -> orders (order_id));
diesel::joinable!(order_return_lines -> order_returns (return_id));

diesel::table! {
    transfer_lanes (to_location, from_location) {
        from_location -> Text,
        to_location -> Text,
        working_days -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    transfers (id) {
        id -> Text,
        order_id -> Text,
        from_location -> Text,
        to_location -> Text,
        status -> Text,
        expected_at -> Timestamp,
        received_at -> Nullable<Timestamp>,
        received_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    transfer_lines (transfer_id, sku) {
        transfer_id -> Text,
        sku -> Text,
        quantity -> BigInt,
        received -> Nullable<BigInt>,
    }
}

diesel::joinable!(transfer_lines -> transfers (transfer_id));
diesel::joinable!(transfers -> orders (order_id));

diesel::table! {
    marketing_consents (id) {
        id -> BigInt,
        customer_id -> Text,
        granted -> Bool,
        at -> Timestamp,
        source -> Text,
    }
}

diesel::table! {
    stock_alerts (id) {
        id -> Text,
        customer_id -> Text,
        sku -> Text,
        locations -> Text,
        online -> Bool,
        quantity -> BigInt,
        status -> Text,
        found_at -> Nullable<Text>,
        notified_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    locations,
    products,
    stock_levels,
    stock_movements,
    stock_shorts,
    channels,
    channel_locations,
    idempotency_keys,
    reservations,
    reservation_lines,
    orders,
    order_lines,
    order_shipments,
    order_arrivals,
    order_events,
    customers,
    customer_consents,
    push_subscriptions,
    notifications,
    changes,
    change_log_pruned,
    channel_pushes,
    console_devices,
    order_returns,
    order_return_lines,
    slot_bookings,
    slot_rules,
    order_slots,
    location_capacity,
    order_promises,
    transfer_lanes,
    transfers,
    transfer_lines,
    marketing_consents,
    stock_alerts,
);
