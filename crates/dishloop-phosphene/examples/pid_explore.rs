use dishloop_phosphene::params::Params;
use dishloop_phosphene::pid::*;
fn main() {
    let p = Params::default();
    let (layout, thr) = demo_electrode(&p);
    for name in ["step", "ramp", "sine"] {
        let t = Target::named(name).unwrap();
        for (g, n) in [(PidGains::TUNED, "pid"), (PidGains::P_ONLY, "p"), (PidGains::PURE_I, "i")] {
            let m = metrics(&run_single(&p, layout.clone(), Some(thr), &mut Pid::new(g), &t, 8.0).unwrap(), &t, 1.0);
            println!("{name} {n}: {m:?}");
        }
        let m = metrics(&run_single(&p, layout.clone(), Some(thr), &mut OpenLoop::new(&p), &t, 8.0).unwrap(), &t, 1.0);
        println!("{name} open: {m:?}");
    }
}
