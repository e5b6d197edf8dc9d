//! Every example of this crate, run as a test so that an example that stops working fails CI.
//! Own `main` (`harness = false`): the process executor and the local clusters the examples
//! start re-execute this binary as their workers, so `rask::init()` comes first.

#[path = "../examples/arrays.rs"]
mod arrays;
#[path = "../examples/bag_of_structs.rs"]
mod bag_of_structs;
#[path = "../examples/cluster_controls.rs"]
mod cluster_controls;
#[path = "../examples/dataframe.rs"]
mod dataframe;
#[path = "../examples/futures.rs"]
mod futures;
#[path = "../examples/monte_carlo_pi.rs"]
mod monte_carlo_pi;
#[path = "../examples/typed_tasks.rs"]
mod typed_tasks;

/// An example's name and how to run it.
type Example = (&'static str, fn() -> Result<(), String>);

fn main() {
    rask::init();
    let examples: [Example; 7] = [
        ("typed_tasks", || typed_tasks::main().map_err(|e| e.to_string())),
        ("monte_carlo_pi", || monte_carlo_pi::main().map_err(|e| e.to_string())),
        ("futures", || futures::main().map_err(|e| e.to_string())),
        ("cluster_controls", || cluster_controls::main().map_err(|e| e.to_string())),
        ("dataframe", || dataframe::main().map_err(|e| e.to_string())),
        ("bag_of_structs", || bag_of_structs::main().map_err(|e| e.to_string())),
        ("arrays", || arrays::main().map_err(|e| e.to_string())),
    ];
    let mut failed = 0;
    for (name, run) in examples {
        match std::panic::catch_unwind(run) {
            Ok(Ok(())) => println!("example {name} ... ok"),
            Ok(Err(e)) => {
                failed += 1;
                println!("example {name} ... FAILED: {e}");
            }
            Err(_) => {
                failed += 1;
                println!("example {name} ... FAILED (panicked)");
            }
        }
    }
    println!("{} passed, {failed} failed", examples.len() - failed);
    if failed > 0 {
        std::process::exit(1);
    }
}
