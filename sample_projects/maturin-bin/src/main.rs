//! A tiny command-line tool shipped in a wheel by maturin (`bindings = "bin"`).

fn triple(x: i64) -> i64 {
    x * 3
}

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "14".to_string());
    match arg.parse::<i64>() {
        Ok(n) => println!("maturin-bin-demo {}", triple(n)),
        Err(_) => {
            eprintln!("maturin-bin-demo: not a number: {arg}");
            std::process::exit(2);
        }
    }
}
