//! Every transport case of the jam in the CallResponse mode, driven through the bundled plugin (built with
//! `assert_process_allocs`) by our own CLAP host: see `antiphon_tests::transport_cases` for
//! the cases and the checks each one makes.

antiphon_tests::transport_case_tests!(antiphon_tests::transport_cases::Mode::CallResponse);
