// rpoGate(database: 'orders'[, checkRto: true]) fails the build while the database is outside its RPO (or RTO)
def call(Map args) {
    String database = lifeboat.required(args, 'database')
    Map s = lifeboat.request(args, 'GET', "api/v1/status/${database}", null)
    List why = []
    if (!s.rpoMet) {
        why << (s.rpoSeconds != null ? "RPO ${Math.round(s.rpoSeconds as double)} s is over the target ${s.rpoTargetSeconds} s"
                : 'RPO is not known')
    }
    boolean rto = args.checkRto == null ? true : args.checkRto
    if (rto && !s.rtoMet) {
        why << (s.rto?.seconds != null ? "RTO estimate ${Math.round(s.rto.seconds as double)} s is over the target ${s.rtoTargetSeconds} s"
                : 'RTO is not known (no drill has measured one)')
    }
    if (!why.isEmpty()) {
        error("lifeboat: ${database} is outside its objectives: ${why.join('; ')}")
    }
    echo "lifeboat: ${database} is within its RPO${rto ? ' and RTO' : ''}"
    return s
}
