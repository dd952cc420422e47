//! The checked spec editors, without a kernel: a global found by name through the object's
//! BTF is written in the object's byte order into its map's initial bytes; unknown names,
//! wrong sizes and wrong kinds are errors that name the name and change nothing.

use bpfkit_obj::object::{ObjectSpec, SpecError};
use bpfkit_test_support::{fixture, fixture_big_endian};

fn parse(path: std::path::PathBuf) -> ObjectSpec {
    ObjectSpec::parse_named(&std::fs::read(&path).unwrap(), "global_data").unwrap()
}

#[test]
fn variables_are_set_in_the_objects_byte_order_and_checked() {
    for (spec, big_endian) in [
        (parse(fixture("global_data")), false),
        (parse(fixture_big_endian("global_data")), true),
    ] {
        let mut spec = spec;
        let mut names = spec.variable_names();
        names.sort();
        assert_eq!(
            names,
            [
                "constant",
                "custom_config",
                "custom_counter",
                "initialized",
                "read_globals.message",
                "zeroed"
            ]
        );

        let before = spec.clone();
        let mut v = spec.variable_mut("custom_config").unwrap();
        assert_eq!((v.map_name(), v.size()), (".rodata.config", 4));
        let old: [u8; 4] = v.bytes().try_into().unwrap();
        let eleven = if big_endian {
            11u32.to_be_bytes()
        } else {
            11u32.to_le_bytes()
        };
        assert_eq!(old, eleven, "the object's initial value");
        v.set(&0x0102_0304u32).unwrap();
        let want = if big_endian {
            [1, 2, 3, 4]
        } else {
            [4, 3, 2, 1]
        };
        assert_eq!(v.bytes(), want);
        let map = spec.map(".rodata.config").unwrap();
        assert_eq!(
            map.data.as_deref(),
            Some(&want[..]),
            "the map's initial bytes"
        );
        assert_ne!(spec, before);

        // Errors change nothing.
        let edited = spec.clone();
        let err = spec.variable_mut("custom_confg").unwrap_err();
        assert!(
            matches!(&err, SpecError::UnknownName { kind: "global variable", name, known }
                if name == "custom_confg" && known.len() == 6),
            "{err:?}"
        );
        let err = spec
            .variable_mut("constant")
            .unwrap()
            .set(&1u64)
            .unwrap_err();
        assert_eq!(err.to_string(), "global 'constant': is 4 bytes, 8 given");
        let err = spec
            .variable_mut("constant")
            .unwrap()
            .set(&1.5f32)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "global 'constant': is a 4-byte integer, cannot be set from a float"
        );
        let err = spec
            .variable_mut("initialized")
            .unwrap()
            .set(&true)
            .unwrap_err();
        assert!(matches!(err, SpecError::VariableType { .. }), "{err:?}");
        let err = spec
            .variable_mut("initialized")
            .unwrap()
            .set_bytes(&[0; 4])
            .unwrap_err();
        assert!(matches!(
            err,
            SpecError::VariableSize {
                expected: 8,
                actual: 4,
                ..
            }
        ));
        assert_eq!(spec, edited, "failed edits change nothing");

        let err = spec.map_mut("no_such_map").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("no map named 'no_such_map'; the object's maps: "),
            "{err}"
        );
        let data_map = spec
            .variable_mut("initialized")
            .unwrap()
            .map_name()
            .to_owned();
        assert_eq!(data_map, "global_d.data");
        spec.map_mut(&data_map).unwrap().max_entries = 2;
        assert_eq!(spec.map(&data_map).unwrap().max_entries, 2);
        let err = spec.program_mut("read_global").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no program named 'read_global'; the object's programs: read_globals"
        );
        spec.program_mut("read_globals").unwrap().section.autoload = false;
        assert!(!spec.programs[0].section.autoload);
    }
}
