//! A bag of your own structs: values made with `rask::to_value`, mapped by a typed task
//! (named with `rask::task_name!`), read back with `rask::from_value`, on worker processes.
//! `cargo run --release -p rask --example bag_of_structs`
use rask::bag::Bag;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Person {
    name: String,
    age: u32,
}

#[rask::task]
fn a_year_later(p: Person) -> Person {
    Person { age: p.age + 1, ..p }
}

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    rask::init();
    let people = [("ada", 36), ("alan", 41), ("grace", 85), ("edsger", 72)]
        .map(|(name, age)| rask::to_value(&Person { name: name.into(), age }).expect("a task value"));
    let bag = Bag::from_sequence(people.to_vec(), 2).map(rask::task_name!(a_year_later));
    let later: Vec<Person> =
        bag.compute(&rask::executor("processes:2")?)?.iter().map(rask::from_value).collect::<Result<_, _>>()?;
    println!("{later:?}");
    assert_eq!(later.iter().map(|p| p.age).collect::<Vec<_>>(), vec![37, 42, 86, 73]);
    Ok(())
}
